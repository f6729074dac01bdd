"""AtomicModelCheckpoint: a failed save leaves the previous checkpoint whole (Keras' own
ModelCheckpoint does not), and the tokenizer travels inside the .keras file."""

import os

import keras
import numpy as np
import pytest

from keras_seq.callbacks import AtomicModelCheckpoint
from keras_seq.losses import MaskedSequenceLoss
from keras_seq.models import SequenceTagger
from keras_seq.pipelines import tagging_dataset
from keras_seq.text import WordTokenizer


@keras.saving.register_keras_serializable(package="keras_seq_tests")
class BreaksOnSave(keras.layers.Dense):
    """A Dense layer whose variables fail to save once ``broken`` is set (a full disk, a kill)."""

    broken = False

    def save_own_variables(self, store):
        if BreaksOnSave.broken:
            raise OSError("no space left on device")
        super().save_own_variables(store)


class BreakAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        BreaksOnSave.broken = epoch >= 1


@pytest.fixture
def breaking_model():
    BreaksOnSave.broken = False
    model = keras.Sequential([keras.Input((3,)), BreaksOnSave(2)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    yield model
    BreaksOnSave.broken = False


class Record(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.weights = [w.numpy().copy() for w in self.model.weights]


def fit_two_epochs(model, checkpoint):
    """Epoch 1 is saved, the save of epoch 2 fails. Returns the weights after epoch 1."""
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    record = Record()
    with pytest.raises(OSError, match="no space left"):
        callbacks = [BreakAfterFirstEpoch(), record, checkpoint]
        model.fit(x, y, epochs=2, callbacks=callbacks, verbose=0)
    return record.weights


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, breaking_model):
    path = tmp_path / "model.keras"
    first = fit_two_epochs(breaking_model, AtomicModelCheckpoint(str(path)))
    reloaded = keras.saving.load_model(path)
    for got, want in zip(reloaded.weights, first, strict=True):
        np.testing.assert_array_equal(got.numpy(), want)
    # The failed partial file is the only other thing there, hidden.
    assert all(name.startswith(".") for name in os.listdir(tmp_path) if name != "model.keras")


def test_keras_model_checkpoint_is_not_atomic(tmp_path, breaking_model):
    # Why AtomicModelCheckpoint exists: Keras 3 writes the archive into the final path.
    path = tmp_path / "model.keras"
    fit_two_epochs(breaking_model, keras.callbacks.ModelCheckpoint(str(path)))
    with pytest.raises(Exception):  # noqa: B017  (a truncated zip: the error type varies)
        keras.saving.load_model(path)


def test_formatted_names_and_best_only(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    checkpoint = AtomicModelCheckpoint(
        str(tmp_path / "model-{epoch:02d}.keras"), monitor="loss", save_best_only=True
    )
    model.fit(np.ones((4, 3)), np.zeros((4, 1)), epochs=3, callbacks=[checkpoint], verbose=0)
    # SGD on this convex problem lowers the loss every epoch: each epoch is a new best.
    assert sorted(os.listdir(tmp_path)) == [f"model-0{i}.keras" for i in (1, 2, 3)]
    reloaded = keras.saving.load_model(tmp_path / "model-03.keras")
    for got, want in zip(reloaded.weights, model.weights, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_weights_only(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    path = tmp_path / "best.weights.h5"
    checkpoint = AtomicModelCheckpoint(str(path), save_weights_only=True)
    model.fit(np.ones((4, 3)), np.zeros((4, 1)), epochs=1, callbacks=[checkpoint], verbose=0)
    assert os.listdir(tmp_path) == ["best.weights.h5"]
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    other.load_weights(path)
    np.testing.assert_array_equal(other.layers[0].kernel.numpy(), model.layers[0].kernel.numpy())


def test_the_tokenizer_travels_with_the_checkpoint(tmp_path):
    sentences = [
        (["the", "dog", "runs", "."], ["DET", "NOUN", "VERB", "."]),
        (["a", "cat", "sleeps", "."], ["DET", "NOUN", "VERB", "."]),
    ]
    tags = ["DET", "NOUN", "VERB", "."]
    tokenizer = WordTokenizer.from_corpus([words for words, _ in sentences])
    dataset, _ = tagging_dataset(sentences, tokenizer, tags, batch_size=2, shuffle=False)
    model = SequenceTagger(tags, embedding_dim=4, units=3, tokenizer=tokenizer)
    model.compile(keras.optimizers.Adam(0.01), MaskedSequenceLoss())
    path = tmp_path / "model.keras"
    model.fit(
        dataset,
        epochs=2,
        callbacks=[AtomicModelCheckpoint(str(path))],
        shuffle=False,
        verbose=0,
    )
    reloaded = keras.saving.load_model(path)
    assert reloaded.tokenizer.vocabulary == tokenizer.vocabulary
    texts = ["the cat runs .", "a dog sleeps ."]
    assert reloaded.tag(texts) == model.tag(texts)
    ids = tokenizer.tokenize(texts).to_tensor()
    np.testing.assert_allclose(reloaded(ids), model(ids), atol=1e-6)


def test_a_stale_partial_file_is_never_renamed_over_the_checkpoint(tmp_path):
    # A process killed during a save leaves its partial file; a rerun in a fresh container
    # often gets the same process id, hence the same partial name.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    path = tmp_path / "model.keras"
    x, y = np.ones((4, 3)), np.zeros((4, 1))
    model.fit(x, y, epochs=1, callbacks=[AtomicModelCheckpoint(str(path))], verbose=0)
    saved = path.read_bytes()
    stale = tmp_path / f".model.keras.partial-{os.getpid()}.keras"
    stale.write_bytes(b"PK truncated")
    never_better = AtomicModelCheckpoint(
        str(path), monitor="loss", save_best_only=True, initial_value_threshold=-1.0
    )
    model.fit(x, y, epochs=1, callbacks=[never_better], verbose=0)
    assert path.read_bytes() == saved
    assert os.listdir(tmp_path) == ["model.keras"]


def test_a_failed_save_removes_its_partial_file(tmp_path, breaking_model):
    fit_two_epochs(breaking_model, AtomicModelCheckpoint(str(tmp_path / "model.keras")))
    assert os.listdir(tmp_path) == ["model.keras"]


def test_a_directory_as_the_checkpoint_path_is_refused_and_left_alone(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    (tmp_path / "model.keras").mkdir()
    with pytest.raises(ValueError, match=r"model\.keras' is an existing directory"):
        AtomicModelCheckpoint(str(tmp_path / "model.keras"))
    # A formatted name is known only at the save: refused there, nothing left behind.
    (tmp_path / "model-01.keras").mkdir()
    checkpoint = AtomicModelCheckpoint(str(tmp_path / "model-{epoch:02d}.keras"))
    with pytest.raises(ValueError, match=r"model-01\.keras' is an existing directory"):
        model.fit(np.ones((4, 3)), np.zeros((4, 1)), epochs=1, callbacks=[checkpoint], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["model-01.keras", "model.keras"]
    assert os.listdir(tmp_path / "model-01.keras") == []
