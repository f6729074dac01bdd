"""Round 16 of the callbacks audit: `AtomicBackupAndRestore` deletes its backup at the end of
`fit` with the commit (``training_state.json``) first. It removed the files in directory order,
so a kill after the weights were gone and before the state file left a state naming a missing
file: the rerun failed with FileNotFoundError instead of starting over."""

import os

import keras

import keras_seq.callbacks.atomic_backup_and_restore as backup_module
from keras_seq.callbacks import AtomicBackupAndRestore
from tests.callbacks.test_atomic_backup_and_restore import fit, small_model


class _KilledOs:
    """``os`` whose ``listdir`` is sorted (weights before ``training_state.json``) and whose
    second ``remove`` is a kill."""

    def __init__(self):
        self.removed = []

    def __getattr__(self, name):
        return getattr(os, name)

    def listdir(self, path):
        return sorted(os.listdir(path))

    def remove(self, path):
        if self.removed:
            raise KeyboardInterrupt("killed while deleting the backup")
        self.removed.append(os.path.basename(path))
        os.remove(path)


class _KillDuringDelete(keras.callbacks.Callback):
    """Listed before the backup: its `on_train_end` runs first and arms the kill."""

    def __init__(self, monkeypatch):
        super().__init__()
        self.monkeypatch = monkeypatch
        self.fake = _KilledOs()

    def on_train_end(self, logs=None):
        self.monkeypatch.setattr(backup_module, "os", self.fake)


def test_a_kill_while_deleting_the_backup_leaves_no_state_naming_missing_weights(
    tmp_path, monkeypatch
):
    backup_dir = str(tmp_path / "backup")
    killer = _KillDuringDelete(monkeypatch)
    try:
        fit(small_model(), AtomicBackupAndRestore(backup_dir), epochs=2, extra=[killer])
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the kill did not happen")
    monkeypatch.undo()
    # The commit went first: what is left is no backup (an orphan weights file at most).
    # (Before: a state naming epoch-2.weights.h5, removed, and a rerun's FileNotFoundError.)
    assert AtomicBackupAndRestore.saved_state(backup_dir) is None
    assert killer.fake.removed == ["training_state.json"]
    assert sorted(os.listdir(backup_dir)) == ["epoch-2.weights.h5"]
    # The rerun starts over from epoch 0 and trains both epochs.
    history = fit(small_model(), AtomicBackupAndRestore(backup_dir), epochs=2)
    assert history.epoch == [0, 1]
    # ...and its own end removes every file of the backup, the orphan included.
    assert not os.path.exists(backup_dir)


def test_a_state_whose_weights_are_present_still_resumes(tmp_path):
    # The order fix must not break the resume: a kill before `on_train_end` keeps the backup.
    class Stop(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    backup_dir = str(tmp_path / "backup")
    try:
        fit(small_model(), AtomicBackupAndRestore(backup_dir), epochs=3, extra=[Stop()])
    except KeyboardInterrupt:
        pass
    state = AtomicBackupAndRestore.saved_state(backup_dir)
    assert state["epoch"] == 1 and state["weights"] == "epoch-1.weights.h5"
    assert sorted(os.listdir(backup_dir)) == ["epoch-1.weights.h5", "training_state.json"]
    history = fit(small_model(), AtomicBackupAndRestore(backup_dir), epochs=3)
    assert history.epoch == [1, 2]
    assert not os.path.exists(backup_dir)
