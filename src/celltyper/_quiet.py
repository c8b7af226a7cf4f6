"""Silence the known-harmless messages Lightning and torch print on every training run, and only those.

Each ``Trainer`` of scvi-tools logs an advertisement for ``litlogger``, which accelerators exist and that a seed was
set, and Lightning's own pytree helper trips a torch ``FutureWarning`` about ``LeafSpec`` on every fit: the same lines
for every model, none about the user's data or settings. :func:`quiet_known_noise` drops exactly these messages (by
logger and text); every other warning and log line still shows.
"""

from __future__ import annotations

import logging
import warnings

#: Lightning's loggers of ``rank_zero_info`` (the pytorch one replaces the fabric one on import) and of the seed.
LIGHTNING_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning.fabric.utilities.seed",
)

#: Beginnings of the log messages dropped: an advertisement, the hardware summary, a note and the seed.
NOISE_PREFIXES = (
    "💡 Tip:",
    "GPU available:",
    "TPU available:",
    "HPU available:",
    "Loading `train_dataloader` to estimate number of stepping batches",
    "Seed set to",
)


class _KnownNoise(logging.Filter):
    """Drops records whose message starts with one of :data:`NOISE_PREFIXES`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(NOISE_PREFIXES)


_FILTER = _KnownNoise()


def quiet_known_noise() -> None:
    """Install the filters (once; calling again changes nothing)."""
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    # torch deprecated LeafSpec, which Lightning's lightning/pytorch/utilities/_pytree.py still builds on every fit
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"lightning\.pytorch\.utilities\._pytree",
    )
