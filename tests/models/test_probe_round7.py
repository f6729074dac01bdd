"""Regression tests of the models (audit round 7): argument checks that a compiled setting
skipped, Seq2Seq's dropout and cell checks, the language model's flags."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceClassifier
from keras_seq.text import WordPieceTokenizer

PAIRS = [("Er hat es tun müssen.", "He had to do it."), ("Wir müssen gehen.", "We have to go.")]


@pytest.fixture(scope="module")
def translator():
    keras.utils.set_random_seed(0)
    source = WordPieceTokenizer.from_corpus([s for s, _ in PAIRS], 300, name="source_tokenizer")
    target = WordPieceTokenizer.from_corpus([t for _, t in PAIRS], 300, name="target_tokenizer")
    model = Seq2Seq(embedding_dim=4, units=4, source_tokenizer=source, target_tokenizer=target)
    model.build()
    return model


def test_a_compiled_setting_does_not_skip_the_argument_checks(translator):
    # The checks ran only when a setting was first compiled, and the cache key of 1 equals
    # that of True and 1.0: after `beam_size=1, n_best=1, length_penalty=1`, the same call
    # with True or 1.0 in any of them decoded instead of raising.
    assert translator.translate("Wir", beam_size=1, n_best=1, length_penalty=1, max_length=3)
    good = dict(beam_size=1, n_best=1, length_penalty=1)
    for name, bad in [
        ("beam_size", True),
        ("beam_size", 1.0),
        ("n_best", True),
        ("n_best", 1.0),
    ]:
        with pytest.raises(TypeError, match=f"`{name[:6]}"):
            translator.translate("Wir", max_length=3, **{**good, name: bad})
    with pytest.raises(ValueError, match="`length_penalty` must be None or a finite number"):
        translator.translate("Wir", max_length=3, **{**good, "length_penalty": True})

    decode = translator.compiled_decode(beam_size=2, length_penalty=1, n_best=1, max_length_bound=2)
    result = decode(tf.constant([[5, 6]], tf.int32))
    assert result.ids.shape[:2] == (1, 1) and result.ids.shape[2] <= 2
    for kwargs in (dict(n_best=True), dict(n_best=1.0), dict(beam_size=2.0)):
        with pytest.raises(TypeError):
            translator.compiled_decode(**{**dict(beam_size=2, length_penalty=1), **kwargs})
    with pytest.raises(ValueError, match="`length_penalty`"):
        translator.compiled_decode(beam_size=2, length_penalty=True, max_length_bound=2)
    with pytest.raises(TypeError, match="`max_length_bound` must be an int"):
        translator.compiled_decode(beam_size=2, length_penalty=1, max_length_bound=2.0)
    # The same valid setting still reuses its function.
    assert translator.compiled_decode(2, 1, 1, 2) is decode


def test_seq2seq_checks_dropout_and_cell_like_the_other_models():
    # Seq2Seq alone left `dropout` to its layers: None or "0.1" failed with "TypeError: '<='
    # not supported between instances of 'int' and 'NoneType'", naming no argument; a cell
    # given as ["lstm"] failed as "unhashable type: 'list'" in every model.
    for bad in (None, "0.1", 1.0, -0.1, True):
        with pytest.raises(ValueError, match=r"`dropout` must be in \[0, 1\)"):
            Seq2Seq(10, 10, embedding_dim=4, units=4, dropout=bad)
    for build in (
        lambda cell: Seq2Seq(10, 10, embedding_dim=4, units=4, cell=cell),
        lambda cell: RNNLanguageModel(10, embedding_dim=4, units=4, cell=cell),
        lambda cell: SequenceClassifier(["a", "b"], 10, embedding_dim=4, units=4, cell=cell),
    ):
        with pytest.raises(ValueError, match=r"`cell` must be one of \['gru', 'lstm'\]"):
            build(["lstm"])
    model = Seq2Seq(10, 10, embedding_dim=4, units=4, dropout=np.float32(0.25))
    assert model.get_config()["dropout"] == 0.25


def test_generate_refuses_a_return_continuation_that_is_not_a_bool(translator):
    # A str was taken for its truth value: return_continuation="no" dropped the prompt.
    model = RNNLanguageModel(embedding_dim=4, units=4, tokenizer=translator.target_tokenizer)
    text = model.generate("He had", max_length=3)[0]
    continuation = model.generate("He had", max_length=3, return_continuation=True)[0]
    assert continuation and text == "He had" + continuation
    for bad in ("no", 0, None):
        with pytest.raises(TypeError, match="`return_continuation` must be a bool"):
            model.generate("He had", max_length=3, return_continuation=bad)
    assert model.generate("He had", max_length=3, return_continuation=np.bool_(True)) == [
        continuation
    ]


def test_decode_with_an_int_max_length_has_that_many_columns():
    """An int `max_length` is the static bound too: `max_length=10` returned 100 columns
    (the default `max_length_bound`), and 150 failed against that bound."""
    from keras_seq.decoding import BeamSearch, GreedySearch

    model = Seq2Seq(20, 20, embedding_dim=4, units=4)
    model.build()
    source = np.array([[5, 6, 7, 0], [8, 9, 0, 0]], dtype="int32")
    for strategy in (GreedySearch(), BeamSearch(beam_size=2)):
        short = model.decode(source, strategy, max_length=10)
        assert short.ids.shape[-1] == 10
        assert int(np.max(short.lengths)) <= 10
        long = model.decode(source, strategy, max_length=150, min_length=120)
        assert long.ids.shape[-1] == 150
        assert int(np.min(long.lengths)) >= 120
        # Greedy: the first 10 tokens of the longer search are the shorter one's.
        if isinstance(strategy, GreedySearch):
            longer = model.decode(source, strategy, max_length=150)
            np.testing.assert_array_equal(np.asarray(longer.ids)[..., :10], short.ids)
