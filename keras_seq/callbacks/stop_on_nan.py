"""Stops `fit` at the first non-finite loss, naming the epoch and batch."""

import math

import keras


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

    def get_config(self):
        return {}
