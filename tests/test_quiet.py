from __future__ import annotations

import logging
import warnings

from celltyper._quiet import LIGHTNING_LOGGERS, quiet_known_noise


def test_only_the_known_lightning_lines_are_dropped(caplog):
    quiet_known_noise()
    quiet_known_noise()  # a second call adds no second filter
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    assert len(logger.filters) == 1
    with caplog.at_level(logging.INFO):
        logger.info("💡 Tip: For seamless cloud logging and experiment tracking, try installing litlogger")
        logger.info("GPU available: False, used: False")
        logging.getLogger("lightning.fabric.utilities.seed").info("Seed set to 0")
        logger.info("`Trainer.fit` stopped: `max_epochs=3` reached.")
        logging.getLogger("celltyper").info("💡 Tip: not Lightning's, so it stays")
    assert [r.getMessage() for r in caplog.records] == [
        "`Trainer.fit` stopped: `max_epochs=3` reached.",
        "💡 Tip: not Lightning's, so it stays",
    ]
    assert all(logging.getLogger(name).filters for name in LIGHTNING_LOGGERS)


def test_only_the_leafspec_deprecation_from_lightning_is_ignored():
    message = "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec)` instead."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_known_noise()
        warnings.warn_explicit(message, FutureWarning, "_pytree.py", 21, module="lightning.pytorch.utilities._pytree")
        warnings.warn_explicit(message, FutureWarning, "mine.py", 1, module="mypackage.mine")
        warnings.warn_explicit(
            "something else", FutureWarning, "_pytree.py", 22, module="lightning.pytorch.utilities._pytree"
        )
    assert [(str(w.message), w.filename) for w in caught] == [(message, "mine.py"), ("something else", "_pytree.py")]


def test_training_from_python_drops_the_known_lines(kang_small, caplog):
    import celltyper as ct
    from celltyper._quiet import _FILTER

    for name in LIGHTNING_LOGGERS:
        logging.getLogger(name).removeFilter(_FILTER)
    ct.CountVAE.setup_anndata(kang_small, layer="counts")
    with caplog.at_level(logging.INFO):
        ct.CountVAE(kang_small, n_latent=2).train(max_epochs=1, accelerator="cpu")
    messages = [record.getMessage() for record in caplog.records]
    assert any("max_epochs=1" in message for message in messages)  # Lightning's other lines still show
    assert not any(message.startswith(("💡 Tip:", "GPU available:", "Seed set to")) for message in messages)
