"""`keras.callbacks.ModelCheckpoint` whose files appear whole or not at all."""

import contextlib
import os

import keras
import numpy as np
from keras.src.utils import io_utils


def _partial_path(path):
    """A hidden name next to ``path`` with the same file type (Keras checks the suffix)."""
    directory, name = os.path.split(path)
    for suffix in (".weights.h5", ".keras", ".h5"):
        if name.endswith(suffix):
            break
    else:
        suffix = ""
    return os.path.join(directory, f".{name}.partial-{os.getpid()}{suffix}")


def non_finite_weights(model):
    """Paths of ``model``'s trainable floating-point weights that hold a NaN or an infinity.

    The update of an epoch's last batch can make the weights NaN while the loss logged for
    that batch (computed before it) is finite: a finite gradient too large for the dtype, or a
    NaN gradient of a finite loss (the norm of a zero vector). Only the next batch's loss shows
    it, after the end-of-epoch saves. (Non-trainable weights are left out: a layer may keep a
    -inf on purpose, such as the start of a running maximum.)
    """
    return [
        weight.path
        for weight in model.trainable_weights
        if keras.backend.is_float_dtype(weight.dtype)
        and not bool(keras.ops.all(keras.ops.isfinite(weight)))
    ]


def replace_atomically(partial, final):
    """Flushes ``partial`` to disk and renames it to ``final`` (atomic on POSIX and Windows
    within one file system)."""
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    os.replace(partial, final)


def write_atomically(path, write, mode="w"):
    """Calls ``write(file)`` on a hidden partial file next to ``path`` (UTF-8 in text mode)
    and renames it to ``path`` once flushed (`replace_atomically`): a kill or an error
    meanwhile leaves the previous file (or none), never a truncated one under the final
    name. The partial file is removed when the write fails."""
    partial = _partial_path(os.fspath(path))
    try:
        with open(partial, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
        replace_atomically(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """`ModelCheckpoint` that writes to a temporary file and renames it into place.

    Keras 3 (3.15) writes a ``.keras`` checkpoint by opening the final path and streaming the
    zip archive into it: a process killed during the save leaves a truncated file and the
    previous best model is gone. Here the archive is written to a hidden
    ``.<name>.partial-<pid>.keras`` in the same directory, flushed, then renamed over the old
    file, so ``filepath`` always holds a complete model (the previous one until the rename).
    A partial file is removed when its save fails, and one left by an earlier process (a
    kill during a save; a restarted container often gets the same process id) is removed
    before each save, so that it can never be renamed over the checkpoint.

    Args and behaviour are those of `keras.callbacks.ModelCheckpoint`, except that:

    - a ``filepath`` naming an existing directory raises ``ValueError`` (when the callback is
      made, or at the save for a name formatted from the epoch) instead of an
      ``IsADirectoryError`` from the save;
    - with ``save_best_only``, a NaN or infinite monitored value is never an improvement: it
      is not saved and does not become the best value. (Keras saved a first value that was
      NaN and kept it as the best, and no finite value compares better than NaN: no epoch
      after it was ever saved.)
    - nothing is saved while the logged ``loss`` is NaN or infinite, or a trainable weight of
      the model is (the weights diverged: the last update of an epoch can make them NaN while
      its loss, computed before it, is finite), with or without ``save_best_only``: the file
      keeps the last good model, even when a save runs before a `StopOnNaN` listed after this
      callback;
    - an unknown ``mode``, a ``save_freq`` below 1 (or not an int nor "epoch") and a NaN,
      infinite or non-number ``initial_value_threshold`` raise ``ValueError`` naming the
      argument (Keras warned and used "auto", saved at every batch, never saved);
    - with ``save_best_only`` and ``save_freq`` in batches, the saves work. (Keras picks the
      comparison for ``mode`` at the first epoch end, and the second save of the first epoch
      raised ``TypeError: 'NoneType' object is not callable``; with
      ``initial_value_threshold``, the first one.)

    `get_config` returns the arguments (``filepath`` as a str), so that
    ``AtomicModelCheckpoint(**checkpoint.get_config())`` makes the same callback; the best
    value seen so far is state, not configuration (``initial_value_threshold`` stays the one
    given).

    Example:

    >>> checkpoint = AtomicModelCheckpoint("out/model.keras", monitor="val_loss",
    ...                                    save_best_only=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        _check_arguments(mode, save_freq, initial_value_threshold)
        super().__init__(
            filepath,
            monitor=monitor,
            verbose=verbose,
            save_best_only=save_best_only,
            save_weights_only=save_weights_only,
            mode=mode,
            save_freq=save_freq,
            initial_value_threshold=initial_value_threshold,
        )
        # Keras keeps it only as the running `best`, which each save replaces.
        self.initial_value_threshold = initial_value_threshold
        # Found before training rather than at the first save, an epoch later.
        _check_not_a_directory(self.filepath)

    def _save_model(self, epoch, batch, logs):
        # Keras' own `_save_model` with the save going to the partial file. (Pointing
        # `self.filepath` at the partial file for Keras' save printed, with `verbose=1`,
        # "saving model to .model.keras.partial-<pid>.keras": a hidden name, gone once
        # renamed.) `_should_save_model` keeps the best value and prints the decision.
        final = self._get_file_path(epoch, batch, logs)
        _check_not_a_directory(final)
        partial = _partial_path(final)
        # A stale partial file (same name, an earlier process killed during a save) goes,
        # whether or not this epoch is saved.
        _remove_if_present(partial)
        if self.monitor_op is None:  # a save within the first epoch (`save_freq` in batches)
            self._set_monitor_op()
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(np.asarray(loss, dtype="float64")).all():
            # Diverged weights are never worth a checkpoint, and would replace the last good
            # one: with `save_freq` in batches this callback runs before a `StopOnNaN` listed
            # after it, at the very batch whose loss broke.
            if self.verbose > 0:
                io_utils.print_msg(f"\nEpoch {epoch + 1}: loss is {loss}, not saving to {final}")
            return
        broken = non_finite_weights(self.model)
        if broken:
            # The last update of the epoch diverged (its own loss, logged, was finite).
            if self.verbose > 0:
                io_utils.print_msg(
                    f"\nEpoch {epoch + 1}: weights {broken[:3]} are not finite, not saving to "
                    f"{final}"
                )
            return
        if not self._should_save_model(epoch, batch, logs, final):
            return
        directory = os.path.dirname(final)
        if directory:
            os.makedirs(directory, exist_ok=True)
        try:
            if self.save_weights_only:
                self.model.save_weights(partial, overwrite=True)
            else:
                self.model.save(partial, overwrite=True)
            replace_atomically(partial, final)
        except BaseException:
            with contextlib.suppress(OSError):  # the save's own error is the one to report
                os.remove(partial)
            raise
        if self.verbose > 0:
            io_utils.print_msg(f"\nEpoch {epoch + 1}: finished saving model to {final}")

    def _is_improvement(self, monitor_value, reference_value):
        # A diverged run's NaN (or a metric's inf) must not replace the best model, nor become
        # the best value: every comparison with NaN is false, so nothing would be saved again.
        if not np.isfinite(np.asarray(monitor_value, dtype="float64")).all():
            return False
        return super()._is_improvement(monitor_value, reference_value)

    def get_config(self):
        # Keras' callbacks have no `get_config`: the arguments, for `AtomicModelCheckpoint(
        # **config)` (as the other keras_seq callbacks), the best value seen not included.
        return {
            "filepath": self.filepath,
            "monitor": self.monitor,
            "verbose": self.verbose,
            "save_best_only": self.save_best_only,
            "save_weights_only": self.save_weights_only,
            "mode": self.mode,
            "save_freq": self.save_freq,
            "initial_value_threshold": self.initial_value_threshold,
        }


def _check_arguments(mode, save_freq, initial_value_threshold):
    """Keras accepts these and fails later or silently: an unknown ``mode`` ("maximize") only
    warns and becomes "auto" (which minimizes a loss, and raises after the first epoch for a
    metric without a known direction); ``save_freq=0`` or below saved at every batch; a NaN
    threshold is never beaten (nothing is saved), and a string one fails at the first epoch
    end."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"`mode` must be 'auto', 'min' or 'max', got {mode!r}.")
    if save_freq != "epoch" and (
        isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
    ):
        raise ValueError(
            f"`save_freq` must be 'epoch' or a number of batches >= 1, got {save_freq!r}."
        )
    if initial_value_threshold is not None and (
        isinstance(initial_value_threshold, bool)
        or not isinstance(initial_value_threshold, (int, float, np.integer, np.floating))
        or not np.isfinite(initial_value_threshold)
    ):
        raise ValueError(
            "`initial_value_threshold` must be None or a finite number, got "
            f"{initial_value_threshold!r}."
        )


def _check_not_a_directory(path):
    if os.path.isdir(path):
        raise ValueError(
            f"The checkpoint path {os.fspath(path)!r} is an existing directory; give a file "
            "name in it, such as 'model.keras'."
        )


def _remove_if_present(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
