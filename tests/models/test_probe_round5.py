"""Model probe, round 5: special tokens forbidden by -inf (float16, large temperatures), a
source of one position under beam search, attention names in any case."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import BeamSearch, GreedySearch
from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger
from keras_seq.models._recurrent_body import forbid_ids
from keras_seq.models.seq2seq import PAD_ID, START_ID
from keras_seq.text import WordTokenizer
from tests.test_case import dtype_policy


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_forbidden_ids_get_minus_infinity_and_the_others_keep_their_logits(dtype):
    logits = tf.constant([[1.5, -2.0, 0.25, 3.0], [0.0, 7.0, -1.0, 2.0]], dtype)
    forbidden = forbid_ids(logits, [0, 1], 4).numpy().astype(np.float32)
    assert np.all(forbidden[:, :2] == -np.inf)
    np.testing.assert_array_equal(forbidden[:, 2:], logits.numpy().astype(np.float32)[:, 2:])


def test_seq2seq_decodes_under_mixed_float16():
    with dtype_policy("mixed_float16"):
        keras.utils.set_random_seed(0)
        model = Seq2Seq(12, 12, embedding_dim=4, units=8)
        model.build()
        source = tf.constant([[5, 6, 7]])
        memory, mask, states = model.encode(source)
        logits, _, _ = model.generate_step(memory, mask)(tf.constant([1]), states, 0)
        logits = tf.cast(logits, tf.float32).numpy()[0]
        assert logits[PAD_ID] == -np.inf and logits[START_ID] == -np.inf
        assert np.all(np.isfinite(logits[2:]))
        result = model.compiled_decode(beam_size=2, max_length_bound=4)(source)
        assert np.all(np.isfinite(result.scores.numpy()))
        assert not np.isin(result.ids.numpy(), [START_ID]).any()


def test_the_language_model_never_generates_padding_or_start_at_a_huge_temperature():
    keras.utils.set_random_seed(0)
    tokenizer = WordTokenizer.from_corpus(["it was the best of times it was the worst"])
    model = RNNLanguageModel(embedding_dim=4, units=8, tokenizer=tokenizer)
    # At temperature 1e9 a finite -1e9 stand-in became -1 against logits near 0: padding
    # and <s> were drawn. -inf stays -inf.
    logits = model.forbid_special_tokens(tf.random.normal([16, tokenizer.vocabulary_size]))
    samples = tf.random.categorical(logits / 1e9, 500, seed=1).numpy()
    assert not np.isin(samples, [PAD_ID, START_ID]).any()
    assert len(set(samples.ravel())) == tokenizer.vocabulary_size - 2


def test_beam_search_takes_a_source_of_one_position():
    def step(ids, state, index):
        rows = tf.shape(ids)[0]
        return tf.math.log(tf.fill([rows, 5], 0.2)), state, tf.ones([rows, 1])

    for search in (GreedySearch(), BeamSearch(2)):
        result = search(step, tf.constant([0, 0]), end_id=2, initial_state=(), max_length=3)
        assert result.alignments.shape[-1] == 1
        np.testing.assert_allclose(result.alignments.numpy()[result.alignments.numpy() != 0], 1.0)
    keras.utils.set_random_seed(0)
    model = Seq2Seq(12, 12, embedding_dim=4, units=8)
    model.build()
    one = model.decode(tf.constant([[5], [7]]), BeamSearch(2), max_length=3)
    padded = model.decode(tf.constant([[5, 0], [7, 0]]), BeamSearch(2), max_length=3)
    np.testing.assert_array_equal(one.ids.numpy(), padded.ids.numpy())
    np.testing.assert_allclose(one.scores.numpy(), padded.scores.numpy(), rtol=1e-5)


@pytest.mark.parametrize("name", ["Multi_Head", "DOT", "Additive"])
def test_attention_names_are_case_insensitive(name):
    model = Seq2Seq(12, 12, embedding_dim=4, units=8, attention=name)
    reference = Seq2Seq(12, 12, embedding_dim=4, units=8, attention=name.lower())
    assert type(model.decoder.attention) is type(reference.decoder.attention)


def test_max_length_beyond_int32_is_named_by_the_language_model_and_the_searches():
    tokenizer = WordTokenizer.from_corpus(["it was the best of times"])
    model = RNNLanguageModel(embedding_dim=4, units=4, tokenizer=tokenizer)
    for bad in (2**31, 10**12):
        with pytest.raises(ValueError, match=r"`max_length` must be an int in \[1, 2\*\*31 - 1\]"):
            model.generate(["it was"], max_length=bad)
        with pytest.raises(ValueError, match=r"`max_length` must be an int in \[1, 2\*\*31 - 1\]"):
            model.serving_signatures(max_length=bad)

    def step(ids, state, index):
        return tf.zeros([tf.shape(ids)[0], 5]), state

    for search in (GreedySearch(), BeamSearch(2)):
        with pytest.raises(ValueError, match=r"`max_length` must be in \[1, 2\*\*31 - 1\]"):
            search(step, tf.constant([0]), end_id=2, initial_state=(), max_length=2**31)
        with pytest.raises(ValueError, match=r"`max_length_bound` must be in \[1, 2\*\*31 - 1\]"):
            search(step, tf.constant([0]), 2, (), max_length=tf.constant(3), max_length_bound=2**31)
    assert GreedySearch()(step, tf.constant([0]), 2, (), max_length=2).lengths.numpy() == [[2]]


def test_seq2seq_decode_checks_its_strategy_and_bound():
    model = Seq2Seq(12, 12, embedding_dim=4, units=8)
    model.build()
    source = tf.constant([[5, 6]])
    with pytest.raises(TypeError, match="`strategy` must be a keras_seq.decoding strategy"):
        model.decode(source, None)
    with pytest.raises(TypeError, match="`max_length_bound` must be an int when `max_length`"):
        model.decode(source, GreedySearch(), max_length_bound=None)
    assert model.decode(source, GreedySearch(), max_length=1).lengths.numpy() == [[1]]


def _id_models():
    vocabulary = 12
    seq2seq = Seq2Seq(vocabulary, vocabulary, embedding_dim=4, units=8)
    seq2seq.build()
    target = np.array([[1, 4]], "int32")
    return vocabulary, {
        "source_ids": lambda ids: seq2seq((ids, target)),
        "target_in": lambda ids: seq2seq((np.array([[4, 5]], "int32"), ids)),
        "decode": lambda ids: seq2seq.compiled_decode(beam_size=2, max_length_bound=3)(ids),
        "tagger": SequenceTagger(["A", "B"], vocabulary, embedding_dim=4, units=4),
        "classifier": SequenceClassifier(["A", "B"], vocabulary, embedding_dim=4, units=4),
        "language_model": RNNLanguageModel(vocabulary, embedding_dim=4, units=4),
    }


def test_token_ids_outside_the_vocabulary_or_not_integers_are_named():
    # -1 read the embedding's last row silently, 5.9 was read as 5, and 15 failed in a gather.
    vocabulary, models = _id_models()
    for name, model in models.items():
        assert model(tf.constant([[4, 5]])) is not None, name
        bad_ids = [tf.constant(ids) for ids in ([[-1, 5]], [[vocabulary, 5]], [[4, 2**20]])]
        bad_ids.append(np.array([[4, 2**32 + 5]], "int64"))
        for bad in bad_ids:
            message = rf"token ids \(whole numbers\) in \[0, {vocabulary}\)"
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                model(bad)
        if name != "decode":  # a DecodingResult (test_probe_round13b.py checks its dtypes)
            # float ids must be whole numbers (Keras builds under a tf.distribute strategy
            # with float32 symbolic inputs), and strings are no ids at all
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"token ids \(whole"):
                model(np.array([[5.9, 6.7]], "float32"))
            whole = model(np.array([[4.0, 5.0]], "float32")).numpy()
            np.testing.assert_array_equal(whole, model(tf.constant([[4, 5]])).numpy())
            with pytest.raises(TypeError, match="must hold integer ids, got dtype string"):
                model(tf.constant([["a", "b"]]))


def test_token_ids_are_checked_inside_a_compiled_function():
    vocabulary, models = _id_models()
    tagger = tf.function(models["tagger"])
    assert tagger(tf.constant([[4, vocabulary - 1]])).shape[:2] == (1, 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`inputs` must hold token ids"):
        tagger(tf.constant([[4, -3]]))


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_checked_ids_wait_for_their_checks_in_a_graph(dtype):
    # With int32 ids the cast returned them unchanged, without the control dependencies, so
    # in a graph the embedding's gather raced the checks and now and then failed first,
    # unnamed ("indices[0,0] = 12 is not in [0, 12)").
    from keras_seq.models._recurrent_body import token_ids

    @tf.function(input_signature=[tf.TensorSpec([None, None], dtype)])
    def checked(ids):
        out, _ = token_ids(ids, 12, "ids")
        # the check is reached from the returned tensor, not only run as a side effect
        reached = [op.type for op in _ancestors(out.op)]
        assert {"Assert", "If", "StatelessIf"} & set(reached), reached  # an Assert, or in an If
        return out

    assert checked(tf.constant([[0, 11]], dtype)).numpy().tolist() == [[0, 11]]
    for bad in ([[0, 12]], [[-1, 3]]):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"`ids` must hold token ids"):
            checked(tf.constant(bad, dtype))


def _ancestors(op):
    seen, stack = set(), [op]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(tensor.op for tensor in current.inputs)
        stack.extend(current.control_inputs)
    return seen


def test_bad_token_ids_under_xla_give_nan_not_a_clamped_embedding_row():
    # XLA drops the Assert, and there a gather clamps -1 or V to the last row (on a GPU): the
    # models poison their embeddings instead, so the outputs are NaN rather than believable.
    vocabulary, models = _id_models()
    for name, model in models.items():
        if name == "decode":  # a search over NaN logits raises its own named error
            continue
        under_xla = tf.function(lambda ids, model=model: model(ids), jit_compile=True)
        good = under_xla(tf.constant([[4, vocabulary - 1]]))
        assert np.all(np.isfinite(good.numpy())), name
        for bad in ([[4, vocabulary]], [[-1, 5]]):
            outputs = under_xla(tf.constant(bad)).numpy()
            assert np.all(np.isnan(outputs)), (name, bad, outputs)
