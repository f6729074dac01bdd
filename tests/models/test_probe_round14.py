"""Round 14 probes of the models.

- `RNNLanguageModel.prompt_state` (so `decode`) read prompts as right-padded: a left-padded
  prompt ``0 0 <s> w_1 … w_n`` ran the stack over padding only and continued from ``<s>``,
  silently another continuation, while `call` skips padding wherever it is.
- Decoding a model not built yet failed: `Seq2Seq.decode` ("You must build the layer before
  accessing `embeddings`", also inside a `tf.function`), and a tied `RNNLanguageModel`'s
  `decode`, `prompt_state` and `run_sequence` ("no attribute 'output_bias'").
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import BeamSearch, GreedySearch
from keras_seq.models import RNNLanguageModel, Seq2Seq

V = 20


def language_model(tie_weights=False, cell="lstm"):
    keras.utils.set_random_seed(3)
    model = RNNLanguageModel(
        V, embedding_dim=4, units=5, num_layers=2, cell=cell, tie_weights=tie_weights
    )
    model.build()
    rng = np.random.default_rng(0)
    for weight in model.weights:  # large weights: every token matters to the continuation
        weight.assign(rng.normal(0, 0.7, weight.shape).astype("float32"))
    return model


def teacher_forced_log_probability(model, prompt, generated):
    """log p(generated | prompt) by `call` over prompt + generated (reference)."""
    sequence = np.concatenate([prompt, generated]).astype("int32")
    logits = model.forbid_special_tokens(model(sequence[None, :-1]))
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32)).numpy()[0]
    start = len(prompt) - 1
    return sum(log_probs[start + t, token] for t, token in enumerate(generated))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_left_padded_prompt_continues_as_the_unpadded_prompt(cell):
    model = language_model(cell=cell)
    prompts = [[1, 5, 6, 7], [1, 9, 4], [1, 8]]
    alone = [model.decode(np.array([p], "int32"), GreedySearch(), 6) for p in prompts]
    # Left, right and both-sided padding in one batch.
    batch = np.array(
        [[0, 0, 1, 5, 6, 7], [1, 9, 4, 0, 0, 0], [0, 0, 1, 8, 0, 0]],
        "int32",
    )
    result = model.decode(batch, GreedySearch(), 6)
    for row, (prompt, single) in enumerate(zip(prompts, alone, strict=True)):
        np.testing.assert_array_equal(result.ids[row, 0], single.ids[0, 0])
        np.testing.assert_allclose(result.log_probs[row, 0], single.log_probs[0, 0], rtol=1e-5)
        length = int(result.lengths[row, 0])
        generated = result.ids[row, 0, :length].numpy()
        np.testing.assert_allclose(
            result.log_probs[row, 0],
            teacher_forced_log_probability(model, np.array(prompt), generated),
            rtol=1e-5,
        )
    # The continuation of the left-padded prompt is not the one from <s> alone (the defect).
    from_start = model.decode(np.array([[1]], "int32"), GreedySearch(), 6)
    assert abs(float(result.log_probs[0, 0]) - float(from_start.log_probs[0, 0])) > 1e-3


def test_prompt_state_is_the_state_after_all_but_the_last_real_token():
    model = language_model()
    last_ids, states = model.prompt_state(np.array([[0, 0, 1, 5, 6], [1, 5, 6, 0, 0]], "int32"))
    np.testing.assert_array_equal(last_ids, [6, 6])
    _, expected = model.run_sequence(np.array([[1, 5]], "int32"))
    for level, level_expected in zip(states, expected, strict=True):
        for state, state_expected in zip(level, level_expected, strict=True):
            np.testing.assert_allclose(state[0], state_expected[0], rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(state[1], state_expected[0], rtol=1e-6, atol=1e-7)


def test_a_tied_language_model_decodes_before_it_is_built():
    keras.utils.set_random_seed(1)
    model = RNNLanguageModel(V, embedding_dim=4, units=6, tie_weights=True)
    assert not model.built
    prompt = np.array([[1, 5, 6]], "int32")
    result = model.decode(prompt, GreedySearch(), 4)
    assert model.built
    length = int(result.lengths[0, 0])
    generated = result.ids[0, 0, :length].numpy()
    np.testing.assert_allclose(
        result.log_probs[0, 0],
        teacher_forced_log_probability(model, prompt[0], generated),
        rtol=1e-5,
    )
    fresh = RNNLanguageModel(V, embedding_dim=4, units=6, tie_weights=True)
    assert fresh.run_sequence(prompt)[0].shape == (1, 3, V)
    fresh = RNNLanguageModel(V, embedding_dim=4, units=6, tie_weights=True)
    assert fresh.prompt_state(prompt)[0].numpy().tolist() == [6]


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("tie_embeddings", [False, True])
def test_seq2seq_decodes_before_it_is_built(compiled, tie_embeddings):
    keras.utils.set_random_seed(2)
    model = Seq2Seq(V, V, embedding_dim=4, units=6, tie_embeddings=tie_embeddings)
    assert not model.built
    source = np.array([[5, 6, 7], [9, 4, 0]], "int32")

    def decode(ids):
        return model.decode(ids, BeamSearch(2), max_length=4)

    result = tf.function(decode)(source) if compiled else decode(source)
    assert model.built
    ids, lengths = result.ids[:, 0].numpy(), result.lengths[:, 0].numpy()
    target_in = np.concatenate([np.ones((2, 1), "int32"), ids[:, :-1]], axis=1)
    target_out = ids.copy()
    for row in range(2):
        target_in[row, lengths[row] :] = 0
        target_out[row, lengths[row] :] = 0
    np.testing.assert_allclose(
        result.log_probs[:, 0],
        model.sequence_log_probability(source, target_in, target_out),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(encoder_layers=0), "`encoder_layers` must be an int >= 1, got 0"),
        (dict(decoder_layers="2"), "`decoder_layers` must be an int >= 1, got '2'"),
        (dict(decoder_layers=2.0), "`decoder_layers` must be an int >= 1, got 2.0"),
        (dict(attention=None), "`attention` must be one of .*got None"),
    ],
)
def test_seq2seq_depth_and_attention_errors_name_the_argument(arguments, message):
    # They were told as the stacks' `num_layers` and the attention registry's `name`.
    with pytest.raises(ValueError, match=message):
        Seq2Seq(V, V, embedding_dim=4, units=4, **arguments)


def test_numpy_integer_vocabulary_sizes_and_depths_are_taken_as_ints():
    from keras_seq.models import SequenceClassifier, SequenceTagger

    ids = np.array([[5, 6, 7]], "int32")
    size = ids.max() + 13  # np.int64(20), refused as "must be an int"
    model = Seq2Seq(size, size, embedding_dim=4, units=4, encoder_layers=np.int64(2))
    config = model.get_config()
    assert type(config["source_vocabulary_size"]) is int
    assert type(config["target_vocabulary_size"]) is int
    assert type(config["encoder_layers"]) is int
    assert model((ids, ids)).shape == (1, 3, 20)
    for model in (
        RNNLanguageModel(size, embedding_dim=4, units=4),
        SequenceTagger(["a"], vocabulary_size=size, embedding_dim=4, units=4),
        SequenceClassifier(["a", "b"], vocabulary_size=size, embedding_dim=4, units=4),
    ):
        assert type(model.get_config()["vocabulary_size"]) is int
        assert model(ids).shape[0] == 1


@pytest.mark.parametrize("kind", ["tagger", "classifier"])
def test_a_vocabulary_of_padding_alone_is_refused_at_construction(kind):
    # A vocabulary_size of 1 (padding only) was accepted, then `build` failed on its own
    # ids with "`inputs` must hold token ids in [0, 1)".
    from keras_seq.models import SequenceClassifier, SequenceTagger

    build = {
        "tagger": lambda size: SequenceTagger(["a"], vocabulary_size=size, units=4),
        "classifier": lambda size: SequenceClassifier(["a", "b"], vocabulary_size=size, units=4),
    }[kind]
    with pytest.raises(ValueError, match="`vocabulary_size` must be an int >= 2, .* got 1"):
        build(1)
    model = build(2)
    model.build()
    assert model(np.array([[1, 0]], "int32")).shape[0] == 1


def test_seq2seq_names_a_batch_mismatch_of_source_and_target():
    # Told as the decoder's "`initial_state[0]` must have shape [batch, 8]", naming neither.
    model = Seq2Seq(12, 12, embedding_dim=4, units=8)
    source, target = np.array([[4, 5], [4, 6]]), np.array([[1, 4]])
    message = r"`source_ids` and `target_in` must have the same batch size"
    with pytest.raises(ValueError, match=message + r".*got 2 and 1"):
        model((source, target))
    spec = tf.TensorSpec([None, None], tf.int32)
    traced = tf.function(lambda s, t: model((s, t)), input_signature=[spec, spec])
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        traced(tf.constant(source, tf.int32), tf.constant(target, tf.int32))
    # Matching batches still give the eager result.
    expected = model((source, np.array([[1, 4], [1, 5]]))).numpy()
    actual = traced(tf.constant(source, tf.int32), tf.constant([[1, 4], [1, 5]])).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def word_translator():
    from keras_seq.text import WordTokenizer

    keras.utils.set_random_seed(0)
    tokenizer = WordTokenizer.from_corpus(["a b c d e f g h", "i j k l m n o p"])
    model = Seq2Seq(
        embedding_dim=4, units=8, source_tokenizer=tokenizer, target_tokenizer=tokenizer
    )
    model.build()
    return model


def test_translate_sizes_its_buffers_by_the_texts_above_1024_steps(word_translator):
    # max_length=10**9 allocated buffers of 10**9 steps up front (the process was killed for
    # memory), and 2**31 - 1 failed in a reshape ("Value is out of int32 range"). No
    # translation is longer than 2 * source_length + 10 tokens: the same strings come out.
    texts = ["a b c", "i j", ""]
    for kwargs in ({"beam_size": 1}, {"beam_size": 2}, {"beam_size": 2, "n_best": 2}):
        expected = word_translator.translate(texts, max_length=1024, **kwargs)
        for max_length in (1025, 10**9, 2**31 - 1):
            assert word_translator.translate(texts, max_length=max_length, **kwargs) == expected
    bound = word_translator._translation_bound
    assert bound(texts, 100, None) == 100  # up to 1024: max_length itself, as before
    assert bound(texts, 10**9, None) == 1024  # 2 * 3 + 10 <= 1024
    long_text = [" ".join(["a"] * 600)]  # 2 * 600 + 10 = 1210 -> 2048
    assert bound(long_text, 10**9, None) == 2048
    assert bound(long_text, 1500, None) == 1500
    assert bound(long_text, 10**9, 10) == 1024  # max_source_length cuts the source first
