"""Regression tests of the models (audit round 10): token weights of shape [B, T, 1] in
`fit` / `evaluate`, and `class_weight`, which Keras reads as one class per example."""

import keras
import numpy as np
import pytest

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import MaskedAccuracy, Perplexity
from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceTagger

RNG = np.random.default_rng(0)
IDS = RNG.integers(4, 12, (4, 5)).astype("int32")
IDS[0, 3:] = 0
TARGETS = RNG.integers(1, 4, (4, 5)).astype("int32")
TARGETS[0, 3:] = 0
WEIGHTS = RNG.random((4, 5)).astype("float32")


def _tagger():
    return SequenceTagger(["A", "B", "C"], vocabulary_size=12, embedding_dim=3, units=3)


def _language_model():
    return RNNLanguageModel(12, embedding_dim=3, units=3)


def _seq2seq():
    return Seq2Seq(12, 12, embedding_dim=4, units=4)


CASES = [
    (_tagger, IDS, TARGETS),
    (_language_model, IDS, IDS),
    (_seq2seq, (IDS, IDS), IDS),
]


def _fit_and_evaluate(make, x, y, weight):
    keras.utils.set_random_seed(1)
    model = make()
    model.compile(
        keras.optimizers.SGD(0.5),
        MaskedSequenceLoss(),
        weighted_metrics=[MaskedAccuracy(), Perplexity()],
    )
    history = model.fit(x, y, sample_weight=weight, batch_size=4, epochs=2, verbose=0)
    # The second epoch's numbers come from the weights the first epoch's step made.
    return [history.history[name] for name in ("loss", "masked_accuracy", "perplexity")]


@pytest.mark.parametrize("make, x, y", CASES, ids=["tagger", "language_model", "seq2seq"])
def test_token_weights_of_shape_b_t_1_train_as_b_t(make, x, y):
    # [B, T, 1] weights raised "`sample_weight` must have shape [batch] or [batch, time]",
    # where Keras' own losses squeeze the trailing 1.
    expected = _fit_and_evaluate(make, x, y, WEIGHTS)
    got = _fit_and_evaluate(make, x, y, WEIGHTS[..., None])
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_weights_of_two_ranks_on_one_compiled_model():
    # Keras traces `evaluate` again with a weight of unknown rank after weights of two ranks:
    # that raised "Cannot iterate over a shape with unknown rank".
    keras.utils.set_random_seed(1)
    model = _tagger()
    model.compile("sgd", MaskedSequenceLoss(), metrics=[MaskedAccuracy()])
    first = model.evaluate(IDS, TARGETS, sample_weight=WEIGHTS, batch_size=2, verbose=0)
    per_example = WEIGHTS[:, 0]
    second = model.evaluate(IDS, TARGETS, sample_weight=per_example, batch_size=2, verbose=0)
    third = model.evaluate(IDS, TARGETS, sample_weight=WEIGHTS[..., None], batch_size=2, verbose=0)
    np.testing.assert_allclose(third, first, rtol=1e-6)
    broadcast = np.broadcast_to(per_example[:, None], WEIGHTS.shape)
    again = model.evaluate(IDS, TARGETS, sample_weight=broadcast, batch_size=2, verbose=0)
    np.testing.assert_allclose(second, again, rtol=1e-6)


@pytest.mark.parametrize("make, x, y", CASES, ids=["tagger", "language_model", "seq2seq"])
def test_class_weight_is_refused_for_token_targets(make, x, y):
    # Keras took the arg-max of [B, T] targets over time (a position) as each example's class:
    # `class_weight={2: 100.0}` silently weighed the examples whose largest id sat at
    # position 2, and with a tf.data dataset likewise.
    import tensorflow as tf

    model = make()
    model.compile("sgd", MaskedSequenceLoss())
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
    for data in (dict(x=x, y=y), dict(x=dataset)):
        with pytest.raises(ValueError, match="`class_weight` does not apply"):
            model.fit(**data, class_weight={1: 1.0, 2: 100.0}, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="`class_weight` does not apply"):
        model.fit(x, y, 2, 1, 0, None, 0.0, None, True, {2: 100.0})
    # Nothing was trained or traced before the refusal.
    assert model.optimizer.iterations.numpy() == 0


def test_seeded_sampling_depends_on_the_row_as_documented():
    # docs/models.md: the draws are made for the whole batch at once, so the first row draws
    # as it does alone, and a prompt repeated in a batch (or moved to another row) draws
    # other tokens: repeating a prompt is how to get several samples from one seed.
    from keras_seq.text import WordTokenizer

    words = "the cat sat on a mat and dog ran in park birds fly high above".split()
    keras.utils.set_random_seed(0)
    model = RNNLanguageModel(
        embedding_dim=4,
        units=4,
        tokenizer=WordTokenizer(vocabulary=["<pad>", "<s>", "</s>", "<unk>"] + words),
    )
    settings = dict(max_length=6, seed=3, temperature=1.0, return_continuation=True)
    alone = model.generate(["the cat"], **settings)
    repeated = model.generate(["the cat"] * 4, **settings)
    assert repeated[0] == alone[0]
    assert len(set(repeated)) > 1
    assert model.generate(["the cat"] * 4, **settings) == repeated


def test_numpy_float_temperature_samples_as_the_python_float():
    # top_k and top_p took NumPy numbers, `temperature` refused np.float32(0.5) with "must be
    # a float >= 0" (it is one), e.g. from a sweep over `np.arange(..., dtype="float32")`.
    from keras_seq.text import WordTokenizer

    words = ["<pad>", "<s>", "</s>", "<unk>", "the", "cat", "sat", "on", "a", "mat"]
    keras.utils.set_random_seed(0)
    model = RNNLanguageModel(embedding_dim=4, units=4, tokenizer=WordTokenizer(vocabulary=words))
    settings = dict(max_length=5, seed=7, return_continuation=True)
    expected = model.generate(["the", "a"], temperature=0.5, **settings)
    assert model.generate(["the", "a"], temperature=np.float32(0.5), **settings) == expected
    greedy = model.generate(["the", "a"], max_length=5)
    assert model.generate(["the", "a"], temperature=np.float64(0.0), max_length=5) == greedy
    for bad in ("0.5", True):
        with pytest.raises(TypeError, match="`temperature`"):
            model.generate(["the"], temperature=bad)


def test_numpy_integer_lengths_and_seed_act_as_python_ints():
    # `beam_size`, `n_best` and `top_k` took NumPy integers, but `seed`, `max_length`,
    # `max_source_length` and a classifier's `max_length` raised "must be an int".
    from keras_seq.models import SequenceClassifier
    from keras_seq.text import WordTokenizer

    words = ["<pad>", "<s>", "</s>", "<unk>", "the", "cat", "sat", "on", "a", "mat"]
    tokenizer = WordTokenizer(vocabulary=words)
    keras.utils.set_random_seed(0)
    model = RNNLanguageModel(embedding_dim=4, units=4, tokenizer=tokenizer)
    expected = model.generate(["the"], max_length=4, seed=5, temperature=1.0)
    got = model.generate(["the"], max_length=np.int64(4), seed=np.int32(5), temperature=1.0)
    assert got == expected
    translator = Seq2Seq(
        embedding_dim=4, units=4, source_tokenizer=tokenizer, target_tokenizer=tokenizer
    )
    texts = ["the cat sat on a mat"]
    assert translator.translate(
        texts, max_length=np.int64(3), max_source_length=np.int64(2)
    ) == translator.translate(texts, max_length=3, max_source_length=2)
    np.testing.assert_array_equal(
        translator.score(texts, ["a cat"], max_source_length=np.int64(2), max_length=np.int64(2)),
        translator.score(texts, ["a cat"], max_source_length=2, max_length=2),
    )
    classifier = SequenceClassifier(
        ["x", "y"], embedding_dim=4, units=4, max_length=np.int64(3), tokenizer=tokenizer
    )
    assert type(classifier.get_config()["max_length"]) is int
    for bad in (np.float64(3.0), True, 0):
        with pytest.raises(ValueError, match="`max_length`"):
            model.generate(["the"], max_length=bad)
    with pytest.raises(TypeError, match="`seed`"):
        model.generate(["the"], seed=np.float64(1.0), temperature=1.0)
