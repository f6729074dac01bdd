"""Backs up the training state at each epoch end with an atomic commit; restores it on rerun."""

import contextlib
import json
import math
import os
import re
import warnings

import keras
import numpy as np

from keras_seq.callbacks.atomic_model_checkpoint import (
    non_finite_weights,
    replace_atomically,
    write_atomically,
)

_STATE_FILE = "training_state.json"
# The files this callback writes (and so the only ones it removes): the committed state, the
# weights of an epoch, and their partial files (a process id in the name).
_EPOCH_WEIGHTS = r"epoch-[0-9]+\.weights\.h5"
_OWN_FILE = re.compile(
    rf"training_state\.json|{_EPOCH_WEIGHTS}"
    rf"|\.training_state\.json\.partial-[0-9]+|\.{_EPOCH_WEIGHTS}\.partial-[0-9]+\.weights\.h5"
)


def _seed_states(model):
    """The state variables of the model's `keras.random.SeedGenerator`s (dropout masks), which
    `save_weights` leaves out."""
    return [v for v in model.variables if v.name == "seed_generator_state"]


def loggable(value):
    """A JSON value for a log: floats (non-finite ones as "nan", "inf"), arrays as lists;
    str, bool and None as they are (a callback may log anything), and anything else that is
    not a number as its ``str``."""
    if value is None or isinstance(value, (str, bool)):
        return value
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        return str(value)
    if array.ndim:
        return [loggable(item) for item in array]
    number = float(array)
    return number if math.isfinite(number) else str(number)


class AtomicBackupAndRestore(keras.callbacks.Callback):
    """`keras.callbacks.BackupAndRestore` with an atomic commit, the epoch logs, and workers.

    At the end of each epoch the model and optimizer weights are written to
    ``epoch-<n>.weights.h5`` (through a temporary file and a rename), then
    ``training_state.json`` is replaced atomically: ``{"epoch": n, "weights": file name,
    "history": [per-epoch logs], "seed_generator_states": [...]}`` (the dropout random
    generators, which `save_weights` leaves out: without them a resumed run draws other masks).
    That rename is the commit: a process killed at any moment leaves either the previous state
    or the new one, whole. (Keras 3.15's `BackupAndRestore` overwrites ``latest.weights.h5`` in
    place and then its metadata: a kill in between resumes the weights of epoch n + 1 as if they
    were those of epoch n, and a kill during the write leaves a truncated file.) An epoch that
    ends with a NaN or infinite trainable weight (the update of its last batch diverged, while
    that batch's logged loss was finite) is not committed: a `RuntimeWarning` says so and the
    backup keeps the last epoch with finite weights (and is not deleted when `fit` ends with
    such weights). A write that fails (a full disk) removes its partial file. At `fit` start, a
    saved state is loaded (weights, optimizer slots, step counter) and training continues at
    epoch n (0-based, i.e. Keras prints "Epoch n + 1/…"; that `fit` only: a later `fit` of the
    model starts at its own ``initial_epoch``); when `fit` ends normally the backup is deleted:
    the files the callback wrote (``training_state.json``, ``epoch-<n>.weights.h5``), then the
    directory when nothing else is in it. Other files in the directory (a checkpoint saved next
    to the backup) are never removed.

    In multi-worker training every worker must take part in the save (reading distributed
    variables may need collective ops): the chief writes to ``backup_dir`` and every other
    worker passes a private ``write_dir`` (e.g. a temporary directory), while all of them
    restore from ``backup_dir``, which must be on storage every worker reads.

    A backup that does not fit the model (other layers or shapes: a changed configuration)
    raises a `ValueError` naming ``backup_dir`` at `fit` start, and so does a ``backup_dir``
    or ``write_dir`` that is an existing file (rather than a failure to create the directory
    at the first epoch end).

    What is not restored: the state of other callbacks (e.g. `EarlyStopping`'s patience counter
    restarts) and the position of the data iterator — pass the epoch to the data pipeline
    (``saved_state(backup_dir)["epoch"]``) to skip what was already seen.

    Args:
        backup_dir: str. Directory of the backup read at `fit` start (and written, unless
            ``write_dir`` is given). Other files in it are left alone.
        write_dir: str or None. Where this process writes its backups; defaults to
            ``backup_dir``.
        delete_checkpoint: bool. Remove the written backup when `fit` finishes normally.

    Attributes:
        history: list of dict. The logs of every finished epoch, restored ones included.

    Example:

    >>> backup = AtomicBackupAndRestore("runs/tagger/backup")  # doctest: +SKIP
    >>> model.fit(dataset, epochs=10, callbacks=[backup])  # doctest: +SKIP
    """

    def __init__(self, backup_dir, write_dir=None, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"`backup_dir` must be a non-empty path, got {backup_dir!r}.")
        self.backup_dir = os.fspath(backup_dir)
        self.write_dir = os.fspath(write_dir) if write_dir else self.backup_dir
        self.delete_checkpoint = bool(delete_checkpoint)
        self.history = []
        self._restores_initial_epoch = False
        self._initial_epoch_before = None
        self._diverged = False  # the last epoch's weights were not finite (not committed)

    @staticmethod
    def saved_state(backup_dir):
        """The committed state in ``backup_dir`` (``{"epoch", "weights", "history",
        "seed_generator_states"}``) or None if there is none."""
        path = os.path.join(backup_dir, _STATE_FILE)
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def on_train_begin(self, logs=None):
        if not self.model.built:
            raise ValueError(
                "AtomicBackupAndRestore needs a built model (call `model.build()` before `fit`)."
            )
        # Found before training, not by `os.makedirs` at the first epoch end, an epoch later.
        for argument, path in (("backup_dir", self.backup_dir), ("write_dir", self.write_dir)):
            if os.path.exists(path) and not os.path.isdir(path):
                raise ValueError(
                    f"`{argument}` {path!r} is an existing file, not a directory: give a "
                    "directory for the backup (it is created if missing)."
                )
        if os.path.isdir(self.write_dir):  # leftovers of a process killed while writing
            for name in os.listdir(self.write_dir):
                if name.startswith(".") and _OWN_FILE.fullmatch(name):
                    os.remove(os.path.join(self.write_dir, name))
        state = self.saved_state(self.backup_dir)
        self.history = []
        self._diverged = False
        if state is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(os.path.join(self.backup_dir, state["weights"]))
        except ValueError as error:  # Keras: "A total of 2 objects could not be loaded..."
            raise ValueError(
                f"The backup in {self.backup_dir} (epoch {state['epoch']}) does not fit this "
                "model: it was made by another model or configuration. Resume with the model "
                f"that made it, or delete {self.backup_dir} to start over. ({error})"
            ) from error
        self.history = list(state["history"])
        seed_states = _seed_states(self.model)
        if len(seed_states) != len(state["seed_generator_states"]):
            raise ValueError(
                f"The backup in {self.backup_dir} holds {len(state['seed_generator_states'])} "
                f"random generator states, the model has {len(seed_states)}: it was made by "
                "another model."
            )
        for variable, value in zip(seed_states, state["seed_generator_states"], strict=True):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        # The hook Keras' own BackupAndRestore uses: `fit` starts at this epoch. `fit` reads it
        # once, after `on_train_begin`; it is put back at the first epoch (or at the end) so
        # that a later `fit` of this model starts where it is told (Keras' callback leaves it
        # set: every later `fit`, with or without a backup, skipped the restored epochs).
        self._initial_epoch_before = getattr(self.model, "_initial_epoch", None)
        self._restores_initial_epoch = True
        self.model._initial_epoch = state["epoch"]

    def _put_back_initial_epoch(self):
        if getattr(self, "_restores_initial_epoch", False):
            self.model._initial_epoch = self._initial_epoch_before
            self._restores_initial_epoch = False

    def on_epoch_begin(self, epoch, logs=None):
        self._put_back_initial_epoch()

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({key: loggable(value) for key, value in (logs or {}).items()})
        broken = non_finite_weights(self.model)
        self._diverged = bool(broken)
        if broken:
            # Committed, they would be what a rerun resumes from: every later step NaN.
            warnings.warn(
                f"AtomicBackupAndRestore: weights {broken[:3]} are not finite at the end of "
                f"epoch {epoch + 1}: not backed up; the backup in {self.write_dir} keeps the "
                "last epoch whose weights were finite.",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        os.makedirs(self.write_dir, exist_ok=True)
        name = f"epoch-{epoch + 1}.weights.h5"
        partial = os.path.join(self.write_dir, f".{name}.partial-{os.getpid()}.weights.h5")
        try:
            self.model.save_weights(partial, overwrite=True)
            replace_atomically(partial, os.path.join(self.write_dir, name))
        except BaseException:
            # A failed write (a full disk) leaves no partial file taking up the space.
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise
        state = {
            "epoch": epoch + 1,
            "weights": name,
            "history": self.history,
            "seed_generator_states": [v.numpy().tolist() for v in _seed_states(self.model)],
        }
        write_atomically(os.path.join(self.write_dir, _STATE_FILE), lambda f: json.dump(state, f))
        # Only the weights of earlier epochs: other files in the directory (a checkpoint
        # `best.weights.h5` next to the backup) are not the callback's to remove.
        for old in os.listdir(self.write_dir):
            if re.fullmatch(_EPOCH_WEIGHTS, old) and old != name:
                os.remove(os.path.join(self.write_dir, old))

    def on_train_end(self, logs=None):
        self._put_back_initial_epoch()  # no epoch ran: the backup held them all
        if self._diverged:
            # A run that ends with diverged weights failed: its last good state stays.
            warnings.warn(
                f"AtomicBackupAndRestore: training ended with weights that are not finite; the "
                f"backup in {self.write_dir} (its last epoch with finite weights) is kept.",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        if self.delete_checkpoint and os.path.isdir(self.write_dir):
            # The backup's own files, then the directory if nothing else is left in it: a
            # whole-tree removal took whatever else was kept there (the best checkpoint).
            # The state file first: it is the commit, and a kill after the weights it names
            # were removed left a state that a rerun could not load (FileNotFoundError).
            # Without it, leftover weights are only files the next backup replaces.
            _remove_if_present(os.path.join(self.write_dir, _STATE_FILE))
            for name in os.listdir(self.write_dir):
                if _OWN_FILE.fullmatch(name):
                    _remove_if_present(os.path.join(self.write_dir, name))
            with contextlib.suppress(OSError):  # not empty: the other files stay
                os.rmdir(self.write_dir)

    def get_config(self):
        return {
            "backup_dir": self.backup_dir,
            "write_dir": self.write_dir,
            "delete_checkpoint": self.delete_checkpoint,
        }


def _remove_if_present(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
