"""StopOnNaN stops at the first non-finite loss, names the step, and keeps the last good
checkpoint and backup."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.callbacks import AtomicBackupAndRestore, AtomicModelCheckpoint, StopOnNaN

STEPS_PER_EPOCH = 4


def stream(bad_step, value):
    """Batches of 2 whose inputs are finite except at the 1-based global ``bad_step``."""

    def batch(index):
        x = tf.fill([2, 3], 0.1) * tf.cast(index % 5 + 1, tf.float32)
        x = tf.where(index + 1 == bad_step, tf.fill([2, 3], value), x)
        return x, tf.ones([2, 1])

    return tf.data.Dataset.range(1000).map(batch)


def small_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


class WeightsAtEpochEnd(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = [w.numpy().copy() for w in self.model.weights]


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_stops_at_the_bad_step_and_keeps_the_last_good_files(tmp_path, value):
    model = small_model()
    record = WeightsAtEpochEnd()
    checkpoint = tmp_path / "model.keras"
    callbacks = [
        StopOnNaN(),
        AtomicModelCheckpoint(str(checkpoint)),  # every epoch, not only the best
        AtomicBackupAndRestore(tmp_path / "backup"),
        record,
    ]
    # Step 7 is batch 3 of epoch 2.
    with pytest.raises(FloatingPointError, match=r"at epoch 2, batch 3 \(step 7 of this run\)"):
        model.fit(
            stream(7, value),
            epochs=3,
            steps_per_epoch=STEPS_PER_EPOCH,
            callbacks=callbacks,
            shuffle=False,
            verbose=0,
        )
    assert not np.all(np.isfinite(model.layers[0].kernel.numpy()))  # the weights did break
    assert list(record.weights) == [0]  # epoch 2 never ended
    saved = keras.saving.load_model(checkpoint)
    for got, want in zip(saved.weights, record.weights[0], strict=True):
        np.testing.assert_array_equal(got.numpy(), want)
    state = AtomicBackupAndRestore.saved_state(tmp_path / "backup")
    assert state["epoch"] == 1

    # A rerun restores the epoch-1 weights, not the broken ones (and, with epochs=1, stops).
    restored = small_model()
    restored.fit(
        stream(10**6, value),
        epochs=1,
        steps_per_epoch=1,
        callbacks=[AtomicBackupAndRestore(tmp_path / "backup")],
        shuffle=False,
        verbose=0,
    )
    for got, want in zip(restored.weights, record.weights[0], strict=True):
        np.testing.assert_array_equal(got.numpy(), want)


def test_a_finite_run_is_not_stopped():
    model = small_model()
    history = model.fit(
        stream(10**6, np.nan),
        epochs=2,
        steps_per_epoch=STEPS_PER_EPOCH,
        callbacks=[StopOnNaN()],
        shuffle=False,
        verbose=0,
    )
    assert len(history.history["loss"]) == 2
    assert np.all(np.isfinite(history.history["loss"]))


def test_keras_terminate_on_nan_alone_loses_the_good_files(tmp_path):
    # Why StopOnNaN raises: with Keras' default TerminateOnNaN the epoch still ends, so the
    # checkpoint of that epoch holds the broken weights, and `fit` ends as if finished, so
    # BackupAndRestore deletes its backup.
    model = small_model()
    model.fit(
        stream(7, np.nan),
        epochs=3,
        steps_per_epoch=STEPS_PER_EPOCH,
        callbacks=[
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.ModelCheckpoint(str(tmp_path / "model.keras")),
            keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
        ],
        shuffle=False,
        verbose=0,
    )
    assert not (tmp_path / "backup").exists()
    saved = keras.saving.load_model(tmp_path / "model.keras")
    assert np.all(np.isnan(saved.layers[0].kernel.numpy()))


def test_get_config():
    callback = StopOnNaN()
    assert callback.get_config() == {}
    assert isinstance(StopOnNaN(**callback.get_config()), keras.callbacks.TerminateOnNaN)


@pytest.mark.parametrize("steps_per_execution, batch, step", [(1, 3, 7), (2, 4, 8), (4, 4, 8)])
def test_names_the_step_with_several_steps_per_execution(steps_per_execution, batch, step):
    # Keras calls the callback once per execution, with the index of its last batch: the
    # step (that of the execution's last batch) comes from that index, not from the number
    # of calls (which named step 4 for 2 steps per execution, 2 for 4).
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse", steps_per_execution=steps_per_execution)
    message = rf"at epoch 2, batch {batch} \(step {step} of this run\)"
    with pytest.raises(FloatingPointError, match=message):
        model.fit(
            stream(7, np.nan),
            epochs=3,
            steps_per_epoch=STEPS_PER_EPOCH,
            callbacks=[StopOnNaN()],
            shuffle=False,
            verbose=0,
        )
