"""Regression tests of the callbacks (audit round 9)."""

import os

import keras
import numpy as np
import pytest

from keras_seq.callbacks import AtomicBackupAndRestore, AtomicModelCheckpoint, StopOnNaN

X = np.linspace(-1.0, 1.0, 24, dtype="float32").reshape(8, 3)
Y = np.stack([X.sum(axis=1), X[:, 0] - X[:, 2]], axis=1)


def small_model():
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


@pytest.mark.parametrize("threshold", [None, 100.0])
def test_best_only_saves_within_the_first_epoch(tmp_path, threshold):
    # Keras sets the comparison for `mode` at the first epoch end: a batch-level save before it
    # called `monitor_op` None ("TypeError: 'NoneType' object is not callable"), at the second
    # save of the first epoch (at the first with `initial_value_threshold`).
    path = tmp_path / "best.keras"
    checkpoint = AtomicModelCheckpoint(
        str(path),
        monitor="loss",
        save_best_only=True,
        save_freq=2,
        initial_value_threshold=threshold,
    )
    model = small_model()
    model.fit(X, Y, batch_size=2, epochs=1, verbose=0, callbacks=[checkpoint])
    assert path.exists()
    assert checkpoint.best < 100.0


class _Score(keras.callbacks.Callback):
    """Logs ``score``: NaN at the first epoch, then 0.9, 0.8, ... (a metric that improves)."""

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = float("nan") if epoch == 0 else 1.0 - 0.1 * epoch


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_first_value_is_not_the_best(tmp_path, value):
    # Keras saved the first value whatever it was and kept it as the best: after a NaN, no
    # comparison is true and no later epoch was ever saved (the file held the NaN epoch's model).
    class Score(_Score):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if epoch == 0:
                logs["score"] = value

    path = tmp_path / "best.weights.h5"
    checkpoint = AtomicModelCheckpoint(
        str(path), monitor="score", mode="min", save_best_only=True, save_weights_only=True
    )
    model = small_model()
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[Score(), checkpoint])
    assert checkpoint.best == pytest.approx(0.8)
    restored = small_model()
    restored.load_weights(path)  # the last epoch's (the best)
    for got, want in zip(restored.weights, model.weights, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_a_nan_loss_never_replaces_the_best_model(tmp_path):
    # The first epoch's NaN is not saved; nothing else is saved either (every loss is NaN).
    path = tmp_path / "best.keras"
    checkpoint = AtomicModelCheckpoint(str(path), monitor="score", save_best_only=True, mode="max")

    class AlwaysNan(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = float("nan")

    small_model().fit(X, Y, epochs=2, verbose=0, callbacks=[AlwaysNan(), checkpoint])
    assert not os.path.exists(path)
    assert checkpoint.best is None


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"mode": "maximize"}, "`mode`"),
        ({"save_freq": 0}, "`save_freq`"),
        ({"save_freq": -2}, "`save_freq`"),
        ({"save_freq": True}, "`save_freq`"),
        ({"initial_value_threshold": float("nan")}, "`initial_value_threshold`"),
        ({"initial_value_threshold": "0.5"}, "`initial_value_threshold`"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs, argument):
    # Keras warned and fell back to mode "auto" (a typo for "max" then minimized, or failed
    # after the first epoch), saved at every batch for save_freq <= 0, and never saved past a
    # NaN threshold (a string one failed at the first epoch end).
    with pytest.raises(ValueError, match=argument):
        AtomicModelCheckpoint(str(tmp_path / "m.keras"), monitor="loss", **kwargs)


def test_good_arguments_are_accepted(tmp_path):
    for kwargs in (
        {"mode": "max", "save_freq": 3, "initial_value_threshold": np.float32(0.5)},
        {"mode": "min", "save_freq": "epoch", "initial_value_threshold": 2},
    ):
        checkpoint = AtomicModelCheckpoint(str(tmp_path / "m.keras"), monitor="loss", **kwargs)
        assert checkpoint.save_freq == kwargs["save_freq"]


def test_a_checkpoint_before_stop_on_nan_keeps_the_last_good_model(tmp_path):
    # With `save_freq` in batches the checkpoint runs, at the batch whose loss broke, before a
    # StopOnNaN listed after it: Keras saved the NaN weights over the last good model.
    path = tmp_path / "last.weights.h5"
    checkpoint = AtomicModelCheckpoint(str(path), save_weights_only=True, save_freq=1)
    model = small_model()
    targets = Y.copy()
    targets[5] = np.nan  # batch 3 of 4 (batch_size=2)
    with pytest.raises(FloatingPointError, match="batch 3"):
        model.fit(
            X, targets, batch_size=2, epochs=1, shuffle=False, verbose=0,
            callbacks=[checkpoint, StopOnNaN()],
        )  # fmt: skip
    restored = small_model()
    restored.load_weights(path)
    assert all(np.isfinite(w.numpy()).all() for w in restored.weights)
    assert not all(np.isfinite(w.numpy()).all() for w in model.weights)


@pytest.mark.parametrize("argument", ["backup_dir", "write_dir"])
def test_a_file_as_the_backup_directory_is_refused_before_training(tmp_path, argument):
    # `os.makedirs` failed with FileExistsError at the first epoch end: an epoch of training lost.
    existing = tmp_path / "backup"
    existing.write_text("not a directory")
    paths = {"backup_dir": str(tmp_path / "shared"), argument: str(existing)}
    backup = AtomicBackupAndRestore(**paths)
    model = small_model()
    with pytest.raises(ValueError, match=f"`{argument}` .*existing file"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[backup])
    assert int(model.optimizer.iterations.numpy()) == 0
    assert existing.read_text() == "not a directory"
