"""The task models' ``dtype`` argument reaches every layer they make.

Keras layers take the global dtype policy unless told otherwise, so ``Seq2Seq(...,
dtype="float64")`` computed in float32 while its config said float64, and a model saved under
``mixed_bfloat16`` and loaded under float32 ran in float32 (another precision than the one it
was trained in)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger
from keras_seq.text import WordTokenizer
from tests.layers.helpers import randomize
from tests.test_case import assert_allclose, dtype_policy

WORDS = WordTokenizer.from_corpus(["the cat sat on the mat", "a dog ran home"])
IDS = np.array([[5, 6, 7, 0], [4, 5, 0, 0]], "int32")


def make(kind, dtype=None):
    kwargs = {} if dtype is None else {"dtype": dtype}
    if kind == "language_model":
        return RNNLanguageModel(
            embedding_dim=4, units=6, tie_weights=True, tokenizer=WORDS, **kwargs
        )
    if kind == "tagger":
        return SequenceTagger(["DET", "NOUN"], embedding_dim=4, units=6, tokenizer=WORDS, **kwargs)
    if kind == "classifier":
        return SequenceClassifier(
            ["a", "b"], embedding_dim=4, units=6, pooling="mean", tokenizer=WORDS, **kwargs
        )
    if kind == "seq2seq":
        return Seq2Seq(
            embedding_dim=4,
            units=6,
            attention="additive",
            tie_embeddings=True,
            source_tokenizer=WORDS,
            target_tokenizer=WORDS,
            **kwargs,
        )
    # Two levels, residual, multi-head attention: every sublayer kind of the translator.
    return Seq2Seq(
        embedding_dim=4,
        units=8,
        attention="multi_head",
        encoder_layers=2,
        decoder_layers=2,
        residual=True,
        source_tokenizer=WORDS,
        target_tokenizer=WORDS,
        **kwargs,
    )


KINDS = ["language_model", "tagger", "classifier", "seq2seq", "seq2seq_deep"]


def inputs(kind):
    return (IDS, IDS) if kind.startswith("seq2seq") else IDS


def use_text(model, kind):
    """The model's text method, which runs its compiled graph."""
    if kind == "language_model":
        return model.generate(["the"], max_length=3)
    if kind == "tagger":
        return model.tag(["the cat"])
    if kind == "classifier":
        return model.classify(["the cat"])
    return model.translate(["the cat"], beam_size=2, max_length=4)


@pytest.mark.parametrize("kind", KINDS)
def test_float64_computes_in_float64_and_agrees_with_float32(kind):
    model = make(kind, "float64")
    model.build()
    randomize(model, np.random.default_rng(0), scale=0.5)
    assert {w.dtype for w in model.weights} == {"float64"}
    logits = model(inputs(kind))
    assert logits.dtype == tf.float64
    twin = make(kind)
    twin.build()
    twin.set_weights([w.astype("float32") for w in model.get_weights()])
    expected = twin(inputs(kind))
    assert expected.dtype == tf.float32
    assert_allclose(logits.numpy(), expected.numpy(), atol=1e-5)
    use_text(model, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_mixed_bfloat16_argument_under_a_float32_global_policy(kind):
    model = make(kind, "mixed_bfloat16")
    model.build()
    assert {w.dtype for w in model.weights} == {"float32"}
    assert model(inputs(kind)).dtype == tf.bfloat16
    use_text(model, kind)


@pytest.mark.parametrize("kind", ["language_model", "seq2seq"])
def test_a_model_loads_with_the_policy_it_was_saved_with(kind, tmp_path):
    """Saved under the global ``mixed_bfloat16`` policy, loaded under float32: the loaded
    model computes in bfloat16 as the saved one did, and gives the same logits."""
    with dtype_policy("mixed_bfloat16"):
        model = make(kind)
        model.build()
        randomize(model, np.random.default_rng(1), scale=0.5)
        saved = model(inputs(kind)).numpy()
        model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.dtype_policy.name == "mixed_bfloat16"
    logits = loaded(inputs(kind))
    assert logits.dtype == tf.bfloat16
    np.testing.assert_array_equal(logits.numpy(), saved)


def test_a_float64_translator_trains():
    model = make("seq2seq", "float64")
    model.compile("adam", MaskedSequenceLoss(from_logits=True))
    history = model.fit((IDS, IDS), IDS, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
