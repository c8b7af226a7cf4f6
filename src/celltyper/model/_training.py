"""The recipe every celltyper model's ``train`` ends with: checkpoints, the plan's defaults, then scvi-tools' ``train``.

Each model's ``train`` keeps its own signature (its defaults, its extra arguments, their docstrings) and its own
checks; :meth:`CheckpointedTrainingMixin._train_checkpointed` then does what all three share: it adds the periodic
checkpoints and the resume of :mod:`._checkpoints` to the Trainer's arguments, puts the model's plan defaults under the
user's ``plan_kwargs``, silences Lightning's known per-run noise (:mod:`celltyper._quiet`, as the CLI does) and hands
everything to the scvi-tools training mixin the model trains with, which builds the data splitter, the training plan
and the ``TrainRunner``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning.pytorch as pl

from celltyper._quiet import quiet_known_noise

from ._checkpoints import with_checkpointing


class CheckpointedTrainingMixin:
    """``_train_checkpointed``: the end of every celltyper model's ``train``, shared."""

    def _train_checkpointed(
        self,
        scvi_train: Callable[..., Any],
        *,
        checkpoint_dir: str | os.PathLike | None,
        checkpoint_every: int | None,
        resume_from: str | os.PathLike | None,
        plan_defaults: Mapping[str, Any],
        plan_kwargs: Mapping[str, Any] | None,
        trainer_kwargs: Mapping[str, Any],
        callbacks: Sequence[pl.Callback] = (),
        before_training: Callable[[], None] | None = None,
        **train_arguments: Any,
    ) -> Any:
        """Train with ``scvi_train`` (e.g. ``UnsupervisedTrainingMixin.train``), checkpointing as asked.

        Parameters
        ----------
        scvi_train
            The scvi-tools ``train`` to call, unbound; it builds the data splitter, plan and ``TrainRunner``.
        checkpoint_dir, checkpoint_every, resume_from
            As the models' ``train`` takes them (see :func:`._checkpoints.with_checkpointing`); checked first.
        plan_defaults
            The model's arguments of its training plan (``lr`` …); ``plan_kwargs`` win over them.
        plan_kwargs
            The user's arguments of the training plan.
        trainer_kwargs
            The user's arguments of :class:`scvi.train.Trainer` (not changed).
        callbacks
            The model's own callbacks, added after the user's and the checkpoints'.
        before_training
            Run once the checkpoint arguments are checked, before training starts (e.g. fitting a fixed head).
        **train_arguments
            The named arguments of ``scvi_train`` (``max_epochs``, ``batch_size``, ``datasplitter_kwargs`` …).

        Returns
        -------
        What ``scvi_train`` returns.
        """
        trainer_kwargs = with_checkpointing(self, dict(trainer_kwargs), checkpoint_dir, checkpoint_every, resume_from)
        if callbacks:
            trainer_kwargs["callbacks"] = [*trainer_kwargs.get("callbacks", []), *callbacks]
        if before_training is not None:
            before_training()
        quiet_known_noise()
        return scvi_train(
            self, plan_kwargs={**plan_defaults, **(plan_kwargs or {})}, **train_arguments, **trainer_kwargs
        )
