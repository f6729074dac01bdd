"""`keras.callbacks.ModelCheckpoint` whose files appear whole or not at all."""

import contextlib
import os

import keras
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


def replace_atomically(partial, final):
    """Flushes ``partial`` to disk and renames it to ``final`` (atomic on POSIX and Windows
    within one file system)."""
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    os.replace(partial, final)


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

    Args and behaviour are those of `keras.callbacks.ModelCheckpoint`, except that a
    ``filepath`` naming an existing directory raises ``ValueError`` (when the callback is
    made, or at the save for a name formatted from the epoch) instead of an
    ``IsADirectoryError`` from the save.

    Example:

    >>> checkpoint = AtomicModelCheckpoint("out/model.keras", monitor="val_loss",
    ...                                    save_best_only=True)  # doctest: +SKIP
    """

    def __init__(self, filepath, *args, **kwargs):
        super().__init__(filepath, *args, **kwargs)
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


def _check_not_a_directory(path):
    if os.path.isdir(path):
        raise ValueError(
            f"The checkpoint path {os.fspath(path)!r} is an existing directory; give a file "
            "name in it, such as 'model.keras'."
        )


def _remove_if_present(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
