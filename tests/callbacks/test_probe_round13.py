"""Every keras_seq callback returns its constructor arguments from `get_config`, and
``cls(**callback.get_config())`` makes the same callback: `AtomicModelCheckpoint` had no
`get_config` (Keras' callbacks have none), unlike `AtomicBackupAndRestore` and `StopOnNaN`."""

import keras
import numpy as np
import pytest

from keras_seq.callbacks import AtomicBackupAndRestore, AtomicModelCheckpoint, StopOnNaN


def test_atomic_model_checkpoint_config_is_its_arguments(tmp_path):
    checkpoint = AtomicModelCheckpoint(
        tmp_path / "best.weights.h5",  # a path object: kept as a str
        monitor="val_accuracy",
        verbose=1,
        save_best_only=True,
        save_weights_only=True,
        mode="max",
        save_freq=3,
        initial_value_threshold=0.25,
    )
    config = checkpoint.get_config()
    assert config == {
        "filepath": str(tmp_path / "best.weights.h5"),
        "monitor": "val_accuracy",
        "verbose": 1,
        "save_best_only": True,
        "save_weights_only": True,
        "mode": "max",
        "save_freq": 3,
        "initial_value_threshold": 0.25,
    }
    revived = AtomicModelCheckpoint(**config)
    assert type(revived) is AtomicModelCheckpoint
    assert revived.get_config() == config


def test_atomic_model_checkpoint_default_config_round_trips(tmp_path):
    config = AtomicModelCheckpoint(str(tmp_path / "model.keras")).get_config()
    assert config == {
        "filepath": str(tmp_path / "model.keras"),
        "monitor": "val_loss",
        "verbose": 0,
        "save_best_only": False,
        "save_weights_only": False,
        "mode": "auto",
        "save_freq": "epoch",
        "initial_value_threshold": None,
    }
    assert AtomicModelCheckpoint(**config).get_config() == config


def test_atomic_model_checkpoint_config_is_not_its_training_state(tmp_path):
    # The best value seen replaces Keras' `best` (where the threshold was kept): the config
    # still gives the threshold the callback was made with.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    checkpoint = AtomicModelCheckpoint(
        tmp_path / "model.keras", monitor="loss", save_best_only=True, initial_value_threshold=1e9
    )
    x = np.ones((4, 2), "float32")
    model.fit(x, x[:, :1], epochs=1, verbose=0, callbacks=[checkpoint])
    assert checkpoint.best < 1e9 and (tmp_path / "model.keras").exists()
    assert checkpoint.get_config()["initial_value_threshold"] == 1e9


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp_path: AtomicBackupAndRestore(tmp_path / "backup"),
        lambda tmp_path: AtomicBackupAndRestore(
            tmp_path / "a", write_dir=tmp_path / "b", delete_checkpoint=False
        ),
        lambda tmp_path: StopOnNaN(),
        lambda tmp_path: AtomicModelCheckpoint(tmp_path / "m.keras", mode="min"),
    ],
)
def test_every_callback_round_trips_through_its_config(tmp_path, make):
    callback = make(tmp_path)
    revived = type(callback)(**callback.get_config())
    assert revived.get_config() == callback.get_config()
