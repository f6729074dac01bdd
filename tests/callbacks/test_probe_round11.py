"""Regression tests of the callbacks (audit round 11): an epoch whose last update diverges."""

import errno
import os
import re

import keras
import numpy as np
import pytest

from keras_seq.callbacks import AtomicBackupAndRestore, AtomicModelCheckpoint, StopOnNaN

X = np.linspace(-1.0, 1.0, 24, dtype="float32").reshape(8, 3)
Y = np.stack([X.sum(axis=1), X[:, 0] - X[:, 2]], axis=1)
STEPS = 4  # batches of 2


def small_model():
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


class DivergeAtLastBatch(keras.callbacks.Callback):
    """The update of the last batch of epoch ``epoch`` (1-based) makes the weights non-finite;
    the loss logged for that batch (computed before the update) is finite."""

    def __init__(self, epoch=2):
        super().__init__()
        self.bad_epoch = epoch - 1
        self.epoch = 0
        self.weights = {}

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        bad = self.epoch == self.bad_epoch and batch == STEPS - 1
        self.model.optimizer.learning_rate.assign(float("inf") if bad else 0.01)

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = [w.numpy().copy() for w in self.model.weights]


def fit(model, callbacks, epochs=3, **kwargs):
    model.fit(
        X, Y, batch_size=2, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks, **kwargs
    )


def assert_weights(model, path, expected):
    model.load_weights(path)
    for got, want in zip(model.weights, expected, strict=True):
        np.testing.assert_array_equal(got.numpy(), want)


def test_the_checkpoint_never_saves_non_finite_weights(tmp_path):
    # Before: epoch 2's loss was finite, so its diverged weights replaced epoch 1's model.
    path = tmp_path / "model.weights.h5"
    diverge = DivergeAtLastBatch()
    model = small_model()
    fit(model, [diverge, AtomicModelCheckpoint(str(path), save_weights_only=True)])
    assert not all(np.isfinite(w).all() for w in diverge.weights[1])
    assert_weights(small_model(), path, diverge.weights[0])


def test_the_backup_never_commits_non_finite_weights(tmp_path):
    # Before: epoch 2 (then 3) was committed: a rerun resumed from infinite weights.
    diverge = DivergeAtLastBatch()
    backup = tmp_path / "backup"
    model = small_model()
    with pytest.warns(RuntimeWarning) as warned:
        fit(model, [diverge, AtomicBackupAndRestore(backup, delete_checkpoint=False)])
    ours = [str(w.message) for w in warned if "not backed up" in str(w.message)]
    assert [re.search(r"end of epoch (\d+): not backed up", m).group(1) for m in ours] == [
        "2",
        "3",
    ]
    state = AtomicBackupAndRestore.saved_state(backup)
    assert state["epoch"] == 1
    assert sorted(os.listdir(backup)) == ["epoch-1.weights.h5", "training_state.json"]
    assert_weights(small_model(), backup / state["weights"], diverge.weights[0])


def test_a_run_that_ends_diverged_keeps_its_backup(tmp_path):
    # Before: `fit` ended "normally" on infinite weights and deleted the backup (it held them).
    diverge = DivergeAtLastBatch(epoch=3)
    backup = tmp_path / "backup"
    with pytest.warns(RuntimeWarning) as warned:
        fit(small_model(), [diverge, AtomicBackupAndRestore(backup)])
    assert any("training ended with weights that are not finite" in str(w.message) for w in warned)
    assert AtomicBackupAndRestore.saved_state(backup)["epoch"] == 2
    # Resumed, it starts at epoch 3 from epoch 2's weights, then cleans up after itself.
    model = small_model()
    restore = AtomicBackupAndRestore(backup)
    fit(model, [restore])
    assert len(restore.history) == 3
    assert not backup.exists()


def test_stop_on_nan_raises_at_the_end_of_the_epoch_that_diverged(tmp_path):
    # Before: it raised at epoch 3, batch 1, after Keras' own checkpoint (listed after it) had
    # saved the infinite weights of epoch 2.
    path = tmp_path / "keras.weights.h5"
    diverge = DivergeAtLastBatch()
    checkpoint = keras.callbacks.ModelCheckpoint(str(path), save_weights_only=True)
    with pytest.raises(FloatingPointError, match="not finite at the end of epoch 2"):
        fit(small_model(), [diverge, StopOnNaN(), checkpoint])
    assert_weights(small_model(), path, diverge.weights[0])


def test_stop_on_nan_raises_on_a_non_finite_validation_loss(tmp_path):
    # Before: a run whose validation loss was infinite went on to the end, and every epoch's
    # model was saved by the checkpoint listed after it.
    path = tmp_path / "model.keras"
    x_val = np.full((2, 3), 1e30, "float32")
    with pytest.raises(FloatingPointError, match="val_loss is inf at the end of epoch 1"):
        fit(
            small_model(),
            [StopOnNaN(), AtomicModelCheckpoint(str(path))],
            validation_data=(x_val, Y[:2]),
        )
    assert not path.exists()


def test_a_finite_run_with_validation_is_not_stopped(tmp_path):
    model = small_model()
    fit(model, [StopOnNaN()], validation_data=(X, Y))
    assert len(model.history.history["val_loss"]) == 3


def test_a_failed_backup_write_leaves_no_partial_file(tmp_path):
    # Before: the partial weights file of a write that failed (a full disk) stayed behind,
    # taking up the space, until the next `fit`.
    class FullDisk(keras.Sequential):
        def save_weights(self, filepath, overwrite=True):
            with open(filepath, "wb") as f:
                f.write(b"\x89HDF\r\n")
            raise OSError(errno.ENOSPC, "No space left on device")

    keras.utils.set_random_seed(7)
    model = FullDisk([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    backup = tmp_path / "backup"
    with pytest.raises(OSError, match="No space left"):
        fit(model, [AtomicBackupAndRestore(backup)], epochs=1)
    assert os.listdir(backup) == []
