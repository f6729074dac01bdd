import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import (
    AverageLengthPenalty,
    BeamSearch,
    GNMTLengthPenalty,
    GreedySearch,
    LengthPenalty,
)
from tests.decoding.reference import (
    coverage_term,
    enumerate_hypotheses,
    gnmt_penalty,
    make_step,
    padded,
    random_tables,
)

END = 3

# Start token 0. Greedy takes token 1 (p=0.5) and then faces a flat distribution;
# the best sequence starts with the less likely token 2 (p=0.4), then ends (p=0.9).
TRAP = np.log(
    np.array(
        [
            [0.10, 0.50, 0.40, 1e-6],
            [0.25, 0.25, 0.25, 0.25],
            [0.05, 0.05, 1e-6, 0.90],
            [0.25, 0.25, 0.25, 0.25],
        ],
        np.float32,
    )
)


def trap_step(ids, state, index):
    return tf.gather(TRAP, ids), state


def test_finds_the_best_sequence_that_greedy_misses():
    table = np.broadcast_to(TRAP, (3, 4, 4))
    best = enumerate_hypotheses(table, start_id=0, end_id=END, max_length=3)[0]
    assert best["ids"] == [2, 3]

    beam = BeamSearch(beam_size=2)(trap_step, [0], end_id=END, initial_state=(), max_length=3)
    greedy = GreedySearch()(trap_step, [0], end_id=END, initial_state=(), max_length=3)

    np.testing.assert_array_equal(beam.ids[0, 0], [2, 3, 0])
    np.testing.assert_array_equal(beam.lengths, [[2]])
    np.testing.assert_allclose(beam.scores[0, 0], best["score"], atol=1e-5)
    assert greedy.ids[0, 0, 0] == 1  # the locally best first token
    assert greedy.scores[0, 0] < best["score"] - 1.0


@pytest.mark.parametrize(
    "length_penalty, reference_penalty, min_length",
    [
        (None, None, 0),
        (None, None, 2),
        (("gnmt", 0.8), gnmt_penalty(0.8), 0),
        ("average", lambda length: length, 1),
    ],
    ids=["raw", "raw-min-length", "gnmt", "average-min-length"],
)
def test_n_best_is_the_exhaustive_top_n(length_penalty, reference_penalty, min_length):
    vocabulary_size, max_length = 4, 3
    logits, _ = random_tables(7, max_length, vocabulary_size)
    # 40 beams hold every hypothesis of length <= 3, so nothing is pruned.
    search = BeamSearch(beam_size=40, length_penalty=length_penalty, n_best=6)
    result = search(
        make_step(logits),
        [0, 2],
        end_id=END,
        initial_state=(),
        max_length=max_length,
        min_length=min_length,
    )
    for row, start in enumerate([0, 2]):
        expected = enumerate_hypotheses(
            logits, start, END, max_length, min_length, length_penalty=reference_penalty
        )[:6]
        got_ids = result.ids[row].numpy().tolist()
        assert got_ids == [padded(h["ids"], max_length) for h in expected]
        np.testing.assert_array_equal(result.lengths[row], [h["length"] for h in expected])
        np.testing.assert_allclose(result.scores[row], [h["score"] for h in expected], atol=1e-5)
        np.testing.assert_allclose(
            result.log_probs[row], [h["log_prob"] for h in expected], atol=1e-5
        )
        np.testing.assert_allclose(
            result.token_scores[row],
            [padded(h["token_scores"], max_length) for h in expected],
            atol=1e-5,
        )


def test_length_penalty_changes_the_ranking():
    """Short hypotheses win without normalization, a longer one with the average penalty."""
    logits, _ = random_tables(11, 4, 4)
    raw = enumerate_hypotheses(logits, 1, END, 4)[0]
    averaged = enumerate_hypotheses(logits, 1, END, 4, length_penalty=lambda n: n)[0]
    assert raw["ids"] != averaged["ids"]  # the fixture is a case where they differ
    step = make_step(logits)
    for penalty, expected in [(None, raw), ("average", averaged)]:
        result = BeamSearch(121, length_penalty=penalty)(
            step, [1], end_id=END, initial_state=(), max_length=4
        )
        assert result.ids[0, 0].numpy().tolist() == padded(expected["ids"], 4)


def test_length_penalty_formulas():
    lengths = tf.constant([1, 2, 7, 10])
    np.testing.assert_allclose(LengthPenalty()(lengths), [1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(AverageLengthPenalty()(lengths), [1.0, 2.0, 7.0, 10.0])
    # ((5 + |Y|) / 6) ** alpha by hand: (7/6)**0.6, 2**0.6, (15/6)**0.6.
    np.testing.assert_allclose(
        GNMTLengthPenalty(0.6)(lengths), [1.0, 1.0969026, 1.5157166, 1.7328621], rtol=1e-6
    )
    np.testing.assert_allclose(GNMTLengthPenalty(0.0)(lengths), [1.0, 1.0, 1.0, 1.0])


def test_beam_size_one_equals_greedy():
    logits, _ = random_tables(3, 6, 5)
    step = make_step(logits)
    kwargs = dict(end_id=2, initial_state=(), max_length=tf.constant([6, 3, 5]), min_length=1)
    beam = BeamSearch(1, length_penalty=("gnmt", 0.6))(step, [0, 1, 4], **kwargs)
    greedy = GreedySearch()(step, [0, 1, 4], **kwargs)
    np.testing.assert_array_equal(beam.ids, greedy.ids)
    np.testing.assert_array_equal(beam.lengths, greedy.lengths)
    np.testing.assert_allclose(beam.log_probs, greedy.log_probs, atol=1e-6)
    np.testing.assert_allclose(beam.token_scores, greedy.token_scores, atol=1e-6)


def test_min_length_forbids_the_end_token_before_it():
    always_end = np.tile(np.log([[0.05, 0.05, 0.9]]), (3, 1)).astype(np.float32)
    step = make_step(np.broadcast_to(always_end, (6, 3, 3)))
    for search in (BeamSearch(3, n_best=3), GreedySearch()):
        free = search(step, [0], end_id=2, initial_state=(), max_length=6)
        assert free.lengths[0, 0] == 1  # without the constraint it ends at once
        result = search(step, [0], end_id=2, initial_state=(), max_length=6, min_length=3)
        ids = result.ids.numpy()
        assert (ids[..., :3] != 2).all()
        np.testing.assert_array_equal(result.lengths[0], [4] * search.n_best)
        assert (ids[..., 3] == 2).all()


def test_per_example_max_length_is_respected():
    never_end = np.log(np.array([[0.3, 0.7 - 1e-6, 1e-6]] * 3, np.float32))
    step = make_step(np.broadcast_to(never_end, (5, 3, 3)))
    max_length = tf.constant([2, 5, 1])
    for search in (BeamSearch(2, n_best=2), GreedySearch()):
        result = search(step, [0, 0, 0], end_id=2, initial_state=(), max_length=max_length)
        assert result.ids.shape[-1] == 5
        np.testing.assert_array_equal(result.lengths, np.tile([[2], [5], [1]], search.n_best))
        ids = result.ids.numpy()
        for row, limit in enumerate([2, 5, 1]):
            assert (ids[row, :, :limit] != 0).any()
            assert (ids[row, :, limit:] == 0).all()
            assert (result.token_scores.numpy()[row, :, limit:] == 0).all()
        np.testing.assert_array_equal(ids[1, 0], [1, 1, 1, 1, 1])


def test_max_length_as_a_traced_tensor_with_a_bound():
    logits, _ = random_tables(5, 4, 4)
    step = make_step(logits)
    search = BeamSearch(40, n_best=3)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)])
    def decode(start_ids, max_length):
        result = search(step, start_ids, END, (), max_length=max_length, max_length_bound=4)
        return result.ids, result.scores

    ids, scores = decode(tf.constant([0, 1]), tf.constant(3))
    assert ids.shape == (2, 3, 4)
    for row, start in enumerate([0, 1]):
        expected = enumerate_hypotheses(logits, start, END, 3)[:3]
        assert ids[row].numpy().tolist() == [padded(h["ids"], 4) for h in expected]
        np.testing.assert_allclose(scores[row], [h["score"] for h in expected], atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_length"):
        decode(tf.constant([0]), tf.constant(0))


def test_finished_hypotheses_are_frozen():
    """A hypothesis that ended keeps its score and padding however long the others go on."""
    logits, _ = random_tables(2, 8, 4)
    logits[1, :, END] = 6.0  # ending at the second token is very likely
    step = make_step(logits)
    short = BeamSearch(4, n_best=4)(step, [0], end_id=END, initial_state=(), max_length=3)
    long = BeamSearch(4, n_best=4)(step, [0], end_id=END, initial_state=(), max_length=8)
    assert short.lengths[0, 0] == 2
    np.testing.assert_array_equal(long.ids[0, 0], padded(short.ids[0, 0, :2], 8))
    np.testing.assert_allclose(long.scores[0, 0], short.scores[0, 0], atol=1e-6)
    ids = long.ids.numpy()[0]
    token_scores = long.token_scores.numpy()[0]
    for hypothesis, length in enumerate(long.lengths.numpy()[0]):
        assert (ids[hypothesis, length:] == 0).all()
        assert (token_scores[hypothesis, length:] == 0).all()
        if length < 8:
            assert ids[hypothesis, length - 1] == END
        assert (ids[hypothesis, : length - 1] != END).all()
        np.testing.assert_allclose(
            long.log_probs[0, hypothesis], token_scores[hypothesis].sum(), atol=1e-5
        )


def test_batch_equals_each_example_alone():
    logits, _ = random_tables(9, 5, 5)
    step = make_step(logits)
    search = BeamSearch(3, length_penalty=("gnmt", 0.6), n_best=2)
    starts, limits = [0, 1, 4], [5, 3, 4]
    batch = search(step, starts, end_id=2, initial_state=(), max_length=tf.constant(limits))
    assert len({tuple(batch.ids[row, 0].numpy()) for row in range(3)}) == 3
    for row, (start, limit) in enumerate(zip(starts, limits, strict=True)):
        alone = search(step, [start], end_id=2, initial_state=(), max_length=limit)
        np.testing.assert_array_equal(batch.ids[row, :, :limit], alone.ids[0])
        np.testing.assert_array_equal(batch.lengths[row], alone.lengths[0])
        np.testing.assert_allclose(batch.scores[row], alone.scores[0], atol=1e-6)


def test_nested_state_is_reordered_with_the_beams():
    """The state records the tokens fed to the step; after reordering it must match the ids."""
    max_length, vocabulary_size = 6, 5
    logits, _ = random_tables(4, max_length, vocabulary_size)
    table = make_step(logits)

    def step(ids, state, index):
        history, (count, trace) = state["history"], state["steps"]
        at_index = tf.equal(tf.range(max_length), index)[None, :]
        history = tf.where(at_index, ids[:, None], history)
        trace = trace + 1.0
        logits_, _ = table(ids, (), index)
        return logits_, {"history": history, "steps": (count + 1, trace)}

    batch = 2
    state = {
        "history": tf.fill([batch, max_length], -1),
        "steps": (tf.zeros([batch], tf.int32), tf.zeros([batch, 2])),
    }
    search = BeamSearch(3, n_best=3)
    result = search(step, [0, 3], end_id=END, initial_state=state, max_length=max_length)
    history = result.state["history"].numpy().reshape(batch, 3, max_length)
    ids, lengths = result.ids.numpy(), result.lengths.numpy()
    reordered = 0
    for row, start in enumerate([0, 3]):
        for hypothesis in range(3):
            length = lengths[row, hypothesis]
            assert history[row, hypothesis, 0] == start
            np.testing.assert_array_equal(
                history[row, hypothesis, 1:length], ids[row, hypothesis, : length - 1]
            )
            reordered += int(ids[row, hypothesis, 0] != ids[row, 0, 0])
    assert reordered > 0  # the hypotheses took different paths
    count, trace = (tensor.numpy() for tensor in result.state["steps"])
    assert count.shape == (batch * 3,) and trace.shape == (batch * 3, 2)
    assert (count >= lengths.max()).all()  # one step call per position, index 0 included
    np.testing.assert_array_equal(trace, np.stack([count, count], axis=1))


def test_alignments_and_coverage_match_the_exhaustive_search():
    vocabulary_size, max_length, source_length = 4, 3, 5
    logits, attention = random_tables(8, max_length, vocabulary_size, source_length)
    step = make_step(logits, attention)
    search = BeamSearch(40, length_penalty=("gnmt", 0.6), coverage_penalty=0.4, n_best=5)
    result = search(step, [1], end_id=END, initial_state=(), max_length=max_length)
    expected = enumerate_hypotheses(
        logits,
        1,
        END,
        max_length,
        length_penalty=gnmt_penalty(0.6),
        attention_table=attention,
        coverage_penalty=0.4,
    )[:5]
    assert result.alignments.shape == (1, 5, max_length, source_length)
    assert result.ids[0].numpy().tolist() == [padded(h["ids"], max_length) for h in expected]
    np.testing.assert_allclose(result.scores[0], [h["score"] for h in expected], atol=1e-5)
    for hypothesis, reference in enumerate(expected):
        alignments = np.zeros((max_length, source_length), np.float32)
        alignments[: reference["length"]] = reference["alignments"]
        np.testing.assert_allclose(result.alignments[0, hypothesis], alignments, atol=1e-6)


def test_coverage_penalty_changes_the_ranking_as_gnmt_predicts():
    # Tokens a=0, b=1, end=2 (also the start token); source of two positions.
    # "a end" is more likely (0.5 * 0.9 > 0.45 * 0.8) but attends mostly to
    # position 0; "b end" covers both positions fully.
    probabilities = np.array([[0.05, 0.05, 0.9], [0.1, 0.1, 0.8], [0.5, 0.45, 0.05]], np.float32)
    logits = np.broadcast_to(np.log(probabilities), (2, 3, 3))
    attention = np.array([[[0.5, 0.5]] * 3, [[0.9, 0.1], [0.5, 0.5], [0.5, 0.5]]], np.float32)
    step = make_step(logits, attention)
    a_end = np.log(0.5 * 0.9) + 0.7 * coverage_term([1.4, 0.6])
    b_end = np.log(0.45 * 0.8) + 0.7 * coverage_term([1.0, 1.0])
    assert b_end > a_end > b_end - 1.0

    plain = BeamSearch(3, n_best=2)(step, [2], end_id=2, initial_state=(), max_length=2)
    covered = BeamSearch(3, coverage_penalty=0.7, n_best=2)(
        step, [2], end_id=2, initial_state=(), max_length=2
    )
    np.testing.assert_array_equal(plain.ids[0], [[0, 2], [1, 2]])
    np.testing.assert_array_equal(covered.ids[0], [[1, 2], [0, 2]])
    np.testing.assert_allclose(covered.scores[0], [b_end, a_end], atol=1e-5)
    np.testing.assert_allclose(covered.log_probs[0], np.log([0.45 * 0.8, 0.5 * 0.9]), atol=1e-5)


def test_more_beams_than_hypotheses_leaves_minus_infinity_slots():
    logits = np.zeros((1, 2, 2), np.float32)  # one step, two tokens: two hypotheses
    result = BeamSearch(4, n_best=4)(
        make_step(logits), [0], end_id=1, initial_state=(), max_length=1
    )
    np.testing.assert_allclose(result.scores[0, :2], np.log([0.5, 0.5]), atol=1e-6)
    assert np.isneginf(result.scores[0, 2:]).all()


def test_get_config_round_trip():
    import keras

    search = BeamSearch(4, length_penalty=("gnmt", 0.6), coverage_penalty=0.2, n_best=2)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(search))
    assert isinstance(revived, BeamSearch)
    assert revived.get_config() == search.get_config()
    assert isinstance(revived.length_penalty, GNMTLengthPenalty)
    assert revived.length_penalty.alpha == 0.6


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"beam_size": 0}, "beam_size"),
        ({"beam_size": 2, "n_best": 3}, "n_best"),
        ({"beam_size": 2, "n_best": 0}, "n_best"),
        ({"beam_size": 2, "coverage_penalty": -1.0}, "coverage_penalty"),
        ({"beam_size": 2, "length_penalty": ("gnmt",)}, "length_penalty"),
        ({"beam_size": 2, "length_penalty": "wu"}, "length_penalty"),
    ],
)
def test_bad_constructor_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        BeamSearch(**kwargs)


def test_bad_call_arguments():
    search = BeamSearch(2)
    kwargs = dict(initial_state=(), max_length=3)
    with pytest.raises(ValueError, match="end_id"):
        search(trap_step, [0], end_id=4, **kwargs)
    with pytest.raises(ValueError, match="end_id"):
        search(trap_step, [0], end_id=-1, **kwargs)
    with pytest.raises(ValueError, match="max_length"):
        search(trap_step, [0], end_id=END, initial_state=(), max_length=0)
    with pytest.raises(ValueError, match="max_length"):
        search(trap_step, [0], end_id=END, initial_state=(), max_length=tf.constant([3, 0]))
    with pytest.raises(ValueError, match="max_length_bound"):
        search(trap_step, [0], end_id=END, initial_state=(), max_length=6, max_length_bound=5)
    with pytest.raises(ValueError, match="min_length"):
        search(trap_step, [0], end_id=END, min_length=-1, **kwargs)
    with pytest.raises(ValueError, match="start_ids"):
        search(trap_step, [[0]], end_id=END, **kwargs)
    with pytest.raises(ValueError, match="max_length"):
        search(trap_step, [0, 1], end_id=END, initial_state=(), max_length=tf.constant([3, 3, 3]))
    with pytest.raises(ValueError, match="coverage_penalty"):
        BeamSearch(2, coverage_penalty=0.5)(trap_step, [0], end_id=END, **kwargs)
    with pytest.raises(TypeError, match="step"):
        search(lambda ids, state, index: ids, [0], end_id=END, **kwargs)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)])
    def unbounded(start_ids, max_length):
        return search(trap_step, start_ids, END, (), max_length=max_length).ids

    with pytest.raises(ValueError, match="max_length_bound"):
        unbounded.get_concrete_function()


def _unknown_vocabulary(step):
    """The same step with the logits' vocabulary dimension hidden from shape inference, which
    makes the search score every token of the vocabulary instead of `k + 2` candidates."""

    def hidden(ids, state, index):
        logits, *rest = step(ids, state, index)
        logits = tf.raw_ops.PlaceholderWithDefault(input=logits, shape=[None, None])
        assert logits.shape[-1] is None
        return (logits, *rest)

    return hidden


@pytest.mark.parametrize(
    "seed, beam_size, ties, end_id, kwargs, vocabulary_size",
    [
        (0, 2, False, 3, dict(n_best=2), 9),
        (1, 3, True, 0, dict(n_best=3, length_penalty=("gnmt", 0.6)), 9),
        (2, 4, True, 7, dict(n_best=2, length_penalty="average"), 9),
        (3, 3, False, 5, dict(n_best=3, length_penalty=("gnmt", 1.0), coverage_penalty=0.3), 9),
        (4, 1, True, 2, dict(), 9),
        # Large enough for the blockwise top-k (V = 1000: 16 blocks of 64, the last padded).
        (5, 4, True, 997, dict(n_best=3, length_penalty=("gnmt", 0.6)), 1000),
        (6, 3, False, 0, dict(n_best=2), 1000),
    ],
)
def test_candidate_scoring_equals_scoring_the_whole_vocabulary(
    seed, beam_size, ties, end_id, kwargs, vocabulary_size
):
    """With a known vocabulary of V >= k + 2 tokens, each beam's `k + 2` candidates are
    scored instead of all V tokens; the result must be the same, ties included."""
    max_length, source_length = 5, 4
    logits, attention = random_tables(seed, max_length, vocabulary_size, source_length)
    if ties:  # a few distinct values: many equal logits, the end token among them
        logits = np.round(logits).astype(np.float32)
    if "coverage_penalty" not in kwargs:
        attention = None
    step = make_step(logits, attention)
    search = BeamSearch(beam_size, **kwargs)
    arguments = dict(
        start_ids=[0, 4, 8],
        end_id=end_id,
        initial_state=(),
        max_length=tf.constant([5, 3, 4]),
        min_length=tf.constant([0, 2, 1]),
    )
    fast = search(step, **arguments)
    whole = search(_unknown_vocabulary(step), **arguments)
    finite = np.isfinite(whole.scores.numpy())
    assert finite.any()
    np.testing.assert_array_equal(np.isfinite(fast.scores.numpy()), finite)
    for name in ("ids", "lengths"):
        got, expected = getattr(fast, name).numpy(), getattr(whole, name).numpy()
        np.testing.assert_array_equal(got[finite], expected[finite], err_msg=name)
    for name in ("scores", "log_probs", "token_scores"):
        got, expected = getattr(fast, name).numpy(), getattr(whole, name).numpy()
        np.testing.assert_allclose(got[finite], expected[finite], atol=1e-5, err_msg=name)
    if attention is not None:
        np.testing.assert_allclose(
            fast.alignments.numpy()[finite], whole.alignments.numpy()[finite], atol=1e-6
        )


def test_candidate_scoring_finds_the_exhaustive_best():
    """k + 2 candidates a beam, k = 3 over 8 tokens: the best hypothesis is the exhaustive one
    when the beam is wide enough to keep it (a table where greedy goes wrong)."""
    vocabulary_size, max_length = 8, 3
    logits, _ = random_tables(21, max_length, vocabulary_size)
    result = BeamSearch(beam_size=6, n_best=3, length_penalty=("gnmt", 0.6))(
        make_step(logits), [1], end_id=END, initial_state=(), max_length=max_length
    )
    expected = enumerate_hypotheses(logits, 1, END, max_length, length_penalty=gnmt_penalty(0.6))[
        :1
    ]
    assert result.ids[0, 0].numpy().tolist() == padded(expected[0]["ids"], max_length)
    np.testing.assert_allclose(result.scores[0, 0], expected[0]["score"], atol=1e-5)
