"""Round 13b of the models audit: the id paths outside `call` check their ids as `call` does
(the language model's prompt ids, the last one included; the tagger's `predict_tag_ids`;
`Seq2Seq.sequence_log_probability`'s `target_out`); the constructors name the arguments their
callers wrote (`embedding_dim`, `units`, `bridge`); `translate`'s per-source length bound is
documented."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import GreedySearch
from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger
from keras_seq.text import WordPieceTokenizer

VOCABULARY = 12
ID_MESSAGE = r"token ids \(whole numbers\) in \[0, 12\)"


def _language_model():
    keras.utils.set_random_seed(0)
    model = RNNLanguageModel(VOCABULARY, embedding_dim=4, units=4)
    model.build()
    return model


@pytest.mark.parametrize(
    "prompt",
    [
        np.array([[1, -1]]),  # continued from the embedding's last row
        np.array([[1, VOCABULARY]]),  # an unnamed gather error (zeros on a GPU)
        np.array([[1, 2**32 + 5]], "int64"),  # continued from id 5
        np.array([[1, 5.5]], "float32"),  # continued from id 5
        np.array([[-1, 5]]),  # the prefix was checked, as `call` checks it
    ],
)
def test_language_model_decode_checks_every_prompt_id(prompt):
    model = _language_model()
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=rf"`prompt_ids` must hold {ID_MESSAGE}"
    ):
        model.decode(prompt, GreedySearch(), 3)
    decode = tf.function(lambda ids: model.decode(ids, GreedySearch(), 3).ids)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`prompt_ids` must hold token ids"):
        decode(tf.constant(prompt))


def test_language_model_decode_takes_int64_and_whole_float_prompt_ids_as_int32():
    # An int64 tensor failed: "Tensor conversion requested dtype int32 for Tensor with dtype
    # int64".
    model = _language_model()
    expected = model.decode(np.array([[1, 5]], "int32"), GreedySearch(), 3).ids.numpy()
    for prompt in (tf.constant([[1, 5]], tf.int64), np.array([[1.0, 5.0]], "float32")):
        result = model.decode(prompt, GreedySearch(), 3)
        np.testing.assert_array_equal(result.ids.numpy(), expected)


def test_language_model_prompt_ids_must_be_dense_and_two_dimensional():
    model = _language_model()
    with pytest.raises(TypeError, match="`prompt_ids` must be a dense tensor"):
        model.prompt_state(tf.ragged.constant([[1, 5], [1]]))
    with pytest.raises(
        ValueError, match=r"`prompt_ids` must be int ids of shape \[batch, length\]"
    ):
        model.prompt_state(np.array([1, 5]))


def test_a_bad_last_prompt_id_gives_nan_states_where_the_check_is_dropped(monkeypatch):
    # XLA drops the Assert: the states are NaN rather than those of a clamped or wrapped id.
    import keras_seq._checked_ids as checked

    model = _language_model()
    monkeypatch.setattr(checked.tf.debugging, "Assert", lambda *args, **kwargs: tf.no_op())
    _, states = model.prompt_state(np.array([[1, 4, -1], [1, 4, 5]]))
    assert all(np.isnan(s.numpy()).all() for s in tf.nest.flatten(states))
    _, states = model.prompt_state(np.array([[1, 4, 6], [1, 4, 5]]))
    assert all(np.isfinite(s.numpy()).all() for s in tf.nest.flatten(states))


def test_predict_tag_ids_checks_int64_ids_before_the_int32_cast():
    # 2**32 + 5 was cast to 5 and tagged; the model's `call` refused it.
    tagger = SequenceTagger(["A", "B"], VOCABULARY, embedding_dim=4, units=4)
    tagger.build()
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"`ids` must hold {ID_MESSAGE}"):
        tagger.predict_tag_ids(np.array([[4, 2**32 + 5]], "int64"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"`ids` must hold {ID_MESSAGE}"):
        tagger.predict_tag_ids(np.array([[4, 5.5]], "float32"))
    expected = tagger.predict_tag_ids(np.array([[4, 5, 0]], "int32")).numpy()
    for ids in (np.array([[4, 5, 0]], "int64"), tf.constant([[4.0, 5.0, 0.0]])):
        np.testing.assert_array_equal(tagger.predict_tag_ids(ids).numpy(), expected)
    assert expected[0, 2] == 0 and expected.dtype == np.int32


def _seq2seq():
    keras.utils.set_random_seed(0)
    model = Seq2Seq(VOCABULARY, VOCABULARY, embedding_dim=4, units=8)
    model.build()
    return model


@pytest.mark.parametrize(
    "target_out",
    [[[4, VOCABULARY]], [[4, -1]], np.array([[4, 2**32 + 2]], "int64"), [[4.0, 2.5]]],
)
def test_sequence_log_probability_checks_target_out(target_out):
    # An unnamed gather error on the CPU; on a GPU the gather reads 0 for an id out of range:
    # a token of log-probability 0, the score of a certain translation.
    model = _seq2seq()
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=rf"`target_out` must hold {ID_MESSAGE}"
    ):
        model.sequence_log_probability([[5, 6]], [[1, 4]], np.asarray(target_out))


def test_sequence_log_probability_takes_int64_and_whole_float_targets():
    model = _seq2seq()
    expected = model.sequence_log_probability([[5, 6]], [[1, 4]], np.array([[4, 2]], "int32"))
    for target_out in (np.array([[4, 2]], "int64"), np.array([[4.0, 2.0]], "float32")):
        actual = model.sequence_log_probability([[5, 6]], [[1, 4]], target_out)
        np.testing.assert_array_equal(actual.numpy(), expected.numpy())
    logits = model((np.array([[5, 6]]), np.array([[1, 4]]))).numpy()[0]
    logits[:, :2] = -np.inf  # padding and <s> are forbidden
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    np.testing.assert_allclose(expected.numpy(), [log_probs[0, 4] + log_probs[1, 2]], rtol=1e-5)


def test_sequence_log_probability_needs_target_out_shaped_as_target_in():
    model = _seq2seq()
    with pytest.raises(tf.errors.InvalidArgumentError, match="`target_out` must have the shape"):
        model.sequence_log_probability([[5, 6]], [[1, 4, 5]], np.array([[4, 2]]))
    with pytest.raises(
        ValueError, match=r"`target_out` must be int ids of shape \[batch, length\]"
    ):
        model.sequence_log_probability([[5, 6]], [[1, 4]], np.array([4, 2]))


@pytest.mark.parametrize(
    "build",
    [
        lambda **kw: Seq2Seq(VOCABULARY, VOCABULARY, units=8, **kw),
        lambda **kw: RNNLanguageModel(VOCABULARY, units=4, **kw),
        lambda **kw: SequenceTagger(["A"], VOCABULARY, units=4, **kw),
        lambda **kw: SequenceClassifier(["A", "B"], VOCABULARY, units=4, **kw),
    ],
)
@pytest.mark.parametrize("value", [0, -4, 2.5, "8", None])
def test_embedding_dim_errors_name_embedding_dim(build, value):
    # It was "`output_dim` must be a positive integer" (Keras' Embedding), or a TypeError.
    with pytest.raises(ValueError, match=rf"^`embedding_dim` must be an int >= 1, got {value!r}"):
        build(embedding_dim=value)


@pytest.mark.parametrize("value", [-2, 0, 8.0, "8", None])
def test_seq2seq_units_errors_name_the_value_given(value):
    # -2 was told as "got units=-1" (the halved size of the bidirectional encoder), 8.0 as
    # 4.0, and "8" failed in `units % 2` ("not all arguments converted during string
    # formatting").
    with pytest.raises(ValueError, match=rf"^`units` must be an int >= 1, got {value!r}\.$"):
        Seq2Seq(VOCABULARY, VOCABULARY, embedding_dim=4, units=value)


@pytest.mark.parametrize("value", ["Dense", "foo", None, ["copy"]])
def test_seq2seq_bridge_errors_name_bridge(value):
    # It was "`mode` must be one of ..., got mode='Dense'" (the Bridge layer's argument).
    message = rf"^`bridge` must be one of \('copy', 'dense', 'zeros'\), got {value!r}\.$"
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Seq2Seq(VOCABULARY, VOCABULARY, embedding_dim=4, units=8, bridge=value)


@pytest.mark.parametrize(
    "build",
    [
        lambda **kw: Seq2Seq(VOCABULARY, VOCABULARY, **kw),
        lambda **kw: RNNLanguageModel(VOCABULARY, **kw),
        lambda **kw: SequenceTagger(["A"], VOCABULARY, **kw),
        lambda **kw: SequenceClassifier(["A", "B"], VOCABULARY, **kw),
    ],
)
def test_numpy_integer_sizes_are_taken_as_ints(build):
    # Keras' Embedding refused np.int64(4): "`output_dim` must be a positive integer.
    # Received: output_dim=4 (of type int64)".
    model = build(embedding_dim=np.int64(4), units=np.int32(8))
    model.build()
    assert (model.embedding_dim, model.units) == (4, 8)
    assert type(model.get_config()["embedding_dim"]) is int
    assert type(model.get_config()["units"]) is int


def test_translate_documents_its_bound_of_twice_the_source_plus_ten():
    """`translate(max_length=100)` stops a translation at 2 x source tokens + 10 tokens when
    that is smaller, as the translating signatures do: a one-token source translates to 12
    tokens at most. The docstrings said only "static bound on the output length"."""
    keras.utils.set_random_seed(0)
    source = WordPieceTokenizer.from_corpus(["gut"] * 5, 300, name="source_tokenizer")
    target = WordPieceTokenizer.from_corpus(["good"] * 5, 300, name="target_tokenizer")
    model = Seq2Seq(embedding_dim=4, units=4, source_tokenizer=source, target_tokenizer=target)
    model.build()
    kernel, bias = model.output_layer.get_weights()
    bias[:] = 0.0
    bias[target.vocabulary.index("good")] = 50.0  # never </s>
    model.output_layer.set_weights([kernel * 0.0, bias])
    assert source.tokenize(tf.constant(["gut"])).row_lengths().numpy().tolist() == [1]
    for beam_size in (1, 2):
        assert model.translate(["gut"], beam_size=beam_size, max_length=100) == ["good" * 12]
        assert model.translate(["gut"], beam_size=beam_size, max_length=5) == ["good" * 5]
    for doc in (Seq2Seq.translate.__doc__, Seq2Seq.serving_signatures.__doc__):
        assert "2 * source_length + 10" in " ".join(doc.split())


@pytest.mark.parametrize(
    "keys", [["source"], ["source_ids", "target_in"], ["source", "target", "extra"]]
)
def test_seq2seq_call_names_the_dict_keys_it_expects(keys):
    # A bare KeyError named one missing key ('target'), and extra keys were ignored.
    model = _seq2seq()
    ids = np.array([[4, 5]])
    with pytest.raises(ValueError, match=r"keys 'source' \(source ids\) and 'target'"):
        model(dict.fromkeys(keys, ids))
    expected = model((ids, np.array([[1, 4]]))).numpy()
    actual = model({"source": ids, "target": np.array([[1, 4]])}).numpy()
    np.testing.assert_array_equal(actual, expected)


def test_compiled_decode_checks_ids_of_other_dtypes_before_its_int32_signature():
    # Its int32 input signature read a NumPy int64 2**32 + 5 as 5 and refused int64 tensors.
    model = _seq2seq()
    decode = model.compiled_decode(beam_size=2, max_length_bound=3)
    expected = decode(tf.constant([[4, 5]])).ids.numpy()
    for ids in (
        tf.constant([[4, 5]], tf.int64),
        np.array([[4, 5]], "int64"),
        [[4, 5]],
        np.array([[4.0, 5.0]], "float32"),
    ):
        np.testing.assert_array_equal(decode(ids).ids.numpy(), expected)
    message = r"`source_ids` must hold token ids \(whole numbers\) in \[0, 12\)"
    for bad in (np.array([[4, 2**32 + 5]], "int64"), tf.constant([[4, -1]], tf.int64)):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            decode(bad)
    with pytest.raises(TypeError, match="must hold integer ids, got dtype string"):
        decode(tf.constant([["a", "b"]]))
    # Still the one compiled function per setting, with its concrete function.
    assert model.compiled_decode(beam_size=2, max_length_bound=3) is decode
    concrete = decode.get_concrete_function()
    np.testing.assert_array_equal(concrete(tf.constant([[4, 5]])).ids.numpy(), expected)
    # Inside another tf.function an int64 id is checked when the graph runs.
    outer = tf.function(lambda ids: decode(ids).ids)
    np.testing.assert_array_equal(outer(tf.constant([[4, 5]], tf.int64)).numpy(), expected)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        outer(tf.constant([[4, 2**32 + 5]], tf.int64))
