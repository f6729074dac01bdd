"""Stops `fit` at the first non-finite loss, naming the epoch and batch."""

import math

import keras

from keras_seq.callbacks.atomic_model_checkpoint import non_finite_weights


class StopOnNaN(keras.callbacks.TerminateOnNaN):
    """Raises `FloatingPointError` at the first batch whose loss is NaN or ±Inf.

    Keras' `TerminateOnNaN` (by default) only sets ``model.stop_training``: the epoch still
    ends, so the callbacks after it run on the broken weights (`BackupAndRestore` overwrites
    its backup with them, and a rerun resumes from NaN). Raising stops `fit` before any
    end-of-epoch callback: the last backup and the best checkpoint stay those of the last good
    epoch, and the message says where the loss broke, e.g.

        FloatingPointError: loss is nan at epoch 3, batch 17 (step 57 of this run): training
        stopped; checkpoints and backups of the last completed epoch are kept.

    Epochs and batches are counted from 1, as Keras prints them. The ``loss`` Keras logs after
    a batch is the running mean over the epoch, so it turns non-finite at the first bad batch.

    At the end of an epoch it also raises when ``val_loss`` is NaN or ±Inf, or a trainable
    weight of the model is: the update of the epoch's last batch diverged while that batch's
    loss, computed before it, was finite. List it before the checkpoint and backup callbacks,
    so that it raises before they run on that epoch's end (`AtomicModelCheckpoint` and
    `AtomicBackupAndRestore` never save non-finite weights themselves, but Keras' callbacks
    do, and a checkpoint that does not monitor a non-finite ``val_loss`` saves its model).

    Example:

    >>> model.fit(dataset, epochs=10, callbacks=[StopOnNaN()])  # doctest: +SKIP
    """

    def __init__(self):
        super().__init__(raise_error=True)
        self._epoch = 0
        self._steps_before_epoch = 0  # of this run, in the epochs before the current one
        self._steps_in_epoch = 0

    def on_train_begin(self, logs=None):
        self._steps_before_epoch = self._steps_in_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._steps_before_epoch += self._steps_in_epoch
        self._steps_in_epoch = 0

    def on_batch_end(self, batch, logs=None):
        # From the batch index, not by counting calls: with `steps_per_execution` > 1 Keras
        # calls this once per execution, with the index of its last batch.
        self._steps_in_epoch = batch + 1
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            step = self._steps_before_epoch + batch + 1
            raise FloatingPointError(
                f"loss is {loss} at epoch {self._epoch + 1}, batch {batch + 1} (step {step} of "
                "this run): training stopped; checkpoints and backups of the last completed "
                "epoch are kept."
            )

    def on_epoch_end(self, epoch, logs=None):
        # The update of the epoch's last batch can break the weights while that batch's loss
        # (computed before it) was finite: the next batch would show it, but the end-of-epoch
        # callbacks listed after this one would back up and save the broken weights first.
        val_loss = (logs or {}).get("val_loss")
        if val_loss is not None and not math.isfinite(float(val_loss)):
            raise FloatingPointError(
                f"val_loss is {float(val_loss)} at the end of epoch {epoch + 1} (the training "
                "loss was finite): training stopped; checkpoints and backups of the last "
                "completed epoch are kept."
            )
        broken = non_finite_weights(self.model)
        if broken:
            raise FloatingPointError(
                f"weights {broken[:3]} are not finite at the end of epoch {epoch + 1} (the last "
                "update diverged; its loss was finite): training stopped; checkpoints and "
                "backups of the last completed epoch are kept."
            )

    def get_config(self):
        return {}
