"""Decoding probe, round 4: rows the searches feed themselves, unfilled beams, bad arguments."""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import (
    BeamSearch,
    GNMTLengthPenalty,
    GreedySearch,
    TemperatureSampler,
    TopKSampler,
    TopPSampler,
)
from tests.decoding.reference import log_softmax, padded

# A bigram model over 3 tokens, end token 2, under which nothing may follow the end token
# (its row is all -inf), as in an n-gram model.
END = 2
BIGRAM = np.array([np.log([0.2, 0.5, 0.3]), np.log([0.3, 0.3, 0.4]), [-np.inf] * 3], np.float32)


def _table_step(table):
    table = tf.constant(table, tf.float32)

    def step(ids, state, index):
        return tf.gather(table, ids), state

    return step


def _finite_log_softmax(row):
    """log_softmax of a row with -inf entries (NumPy), -inf where the row is -inf."""
    row = np.asarray(row, np.float64)
    finite = row[np.isfinite(row)]
    if not finite.size:
        return np.full_like(row, -np.inf)
    return row - finite.max() - np.log(np.exp(finite - finite.max()).sum())


def _exhaustive(table, start, end, max_length, allowed):
    """Every complete hypothesis over the `allowed` tokens of a bigram table, best first."""
    hypotheses = []
    for length in range(1, max_length + 1):
        for ids in itertools.product(allowed, repeat=length):
            ends = [t for t, token in enumerate(ids) if token == end]
            if (ends and ends[0] != length - 1) or (not ends and length < max_length):
                continue
            previous = (start,) + ids
            log_prob = sum(_finite_log_softmax(table[previous[t]])[ids[t]] for t in range(length))
            if np.isfinite(log_prob):
                hypotheses.append((log_prob, list(ids)))
    return sorted(hypotheses, key=lambda hypothesis: -hypothesis[0])


@pytest.mark.parametrize(
    "selector", [None, TemperatureSampler(0.5), TopKSampler(2), TopPSampler(0.9)], ids=repr
)
def test_greedy_ignores_the_logits_of_rows_that_ended(selector):
    # A row that has ended is fed the end token, after which the model allows no token.
    # The selector used to see that row and raise InvalidArgumentError for the whole batch.
    search = GreedySearch(selector)
    starts = [0, 1] * 8
    result = search(_table_step(BIGRAM), starts, END, (), max_length=4, seed=3)
    ids, lengths = result.ids.numpy()[:, 0], result.lengths.numpy()[:, 0]
    assert (lengths < 4).any()  # rows ended while others went on
    log_probs = log_softmax(BIGRAM[:2])
    for row, start in enumerate(starts):
        length = lengths[row]
        assert (ids[row, length:] == 0).all() and END not in ids[row, : length - 1]
        assert ids[row, length - 1] == END or length == 4
        previous = [start] + ids[row, : length - 1].tolist()
        expected = [log_probs[previous[t], ids[row, t]] for t in range(length)]
        np.testing.assert_allclose(result.token_scores[row, 0, :length], expected, atol=1e-6)
        np.testing.assert_allclose(result.scores[row, 0], sum(expected), atol=1e-5)
    if selector is None:
        np.testing.assert_array_equal(ids[:2], [[1, 2, 0, 0], [2, 0, 0, 0]])


def test_greedy_min_length_does_not_mask_rows_stopped_by_max_length():
    # Example 0 stops at its max_length of 1 (before min_length = 3) and is then fed the
    # end token; the step allows only the end token after it, which min_length masked: a
    # row of -inf that ArgmaxSelector refused, though the row's choice is dropped.
    base = tf.math.log(tf.constant([[0.2, 0.5, 0.3], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3]]))

    def step(ids, state, index):
        only_end = tf.where(tf.equal(tf.range(3), END), 0.0, -np.inf)[None]
        return tf.where(tf.equal(ids, END)[:, None], only_end, tf.gather(base, ids)), state

    result = GreedySearch()(step, [0, 1], END, (), tf.constant([1, 4]), min_length=3)
    np.testing.assert_array_equal(result.ids[:, 0], [[1, 0, 0, 0], [0, 1, 0, 1]])
    np.testing.assert_array_equal(result.lengths[:, 0], [1, 4])
    np.testing.assert_allclose(
        result.scores[:, 0], [np.log(0.5), np.log(0.3 * 0.5 * 0.3 * 0.5)], atol=1e-5
    )


def _constrained_table(seed, vocabulary_size, allowed, fill):
    """Logits over `allowed` tokens only; fed any other token the step has no answer."""
    rng = np.random.default_rng(seed)
    table = rng.normal(scale=2.0, size=(vocabulary_size, vocabulary_size)).astype(np.float32)
    forbidden = [v for v in range(vocabulary_size) if v not in allowed]
    table[:, forbidden] = -np.inf
    table[forbidden, :] = fill
    return table, forbidden


@pytest.mark.parametrize(
    "seed, vocabulary_size, allowed, end, beam_size, max_length, fill",
    [
        (11, 3, [1], 1, 7, 2, -np.inf),  # whole-vocabulary scoring, one possible hypothesis
        (25, 6, [1], 1, 7, 2, -np.inf),
        (30, 3, [1], 1, 7, 2, np.nan),
        (3, 8, [2, 5, 6], 5, 4, 2, -np.inf),  # k + 2 candidates a beam
        (4, 7, [0, 3], 3, 6, 3, np.nan),
    ],
)
def test_unfilled_beams_score_minus_infinity_and_never_feed_a_forbidden_token(
    seed, vocabulary_size, allowed, end, beam_size, max_length, fill
):
    """More beams than hypotheses: the slots no hypothesis fills have score -inf. They used
    to be fed the tokens the step gave probability 0; a step with no answer after those
    (-inf or NaN logits) then turned them into NaN scores."""
    table, forbidden = _constrained_table(seed, vocabulary_size, allowed, fill)
    step = _table_step(table)

    def guarded_step(ids, state, index):
        never_fed = tf.reduce_all(tf.reduce_all(ids[:, None] != tf.constant(forbidden), -1))
        check = tf.debugging.assert_equal(never_fed, True, message="fed a forbidden token")
        with tf.control_dependencies([check]):
            return step(tf.identity(ids), state, index)

    start = allowed[-1]
    result = BeamSearch(beam_size, n_best=beam_size)(
        guarded_step, [start], end, (), max_length=max_length
    )
    expected = _exhaustive(table, start, end, max_length, allowed)[:beam_size]
    scores = result.scores.numpy()[0]
    assert not np.isnan(scores).any()
    assert not np.isnan(result.log_probs.numpy()).any()
    np.testing.assert_allclose(scores[: len(expected)], [h[0] for h in expected], atol=1e-5)
    assert np.isneginf(scores[len(expected) :]).all()
    for j, (_, ids) in enumerate(expected):
        assert result.ids[0, j].numpy().tolist() == padded(ids, max_length)


@pytest.mark.parametrize("vocabulary_size", [4, 8], ids=["whole vocabulary", "k + 2"])
def test_a_live_hypothesis_with_no_allowed_token_has_no_continuation(vocabulary_size):
    """A constrained step that allows no token after token 1 (a dead end): that hypothesis
    dies; its all -inf logits used to give NaN log-probabilities that `top_k` ranked first."""
    table = np.full((vocabulary_size, vocabulary_size), -20.0, np.float32)
    table[0, :4] = np.log([0.05, 0.6, 0.3, 0.05])  # token 1 is the likeliest first token
    table[2, :4] = np.log([0.1, 0.1, 0.1, 0.7])
    table[3, :4] = np.log([0.4, 0.1, 0.1, 0.4])
    table[1] = -np.inf  # nothing may follow token 1
    end, max_length = 3, 3
    result = BeamSearch(2, n_best=2)(_table_step(table), [0], end, (), max_length=max_length)
    best_score, best_ids = _exhaustive(table, 0, end, max_length, list(range(vocabulary_size)))[0]
    assert best_ids == [2, 3]
    np.testing.assert_array_equal(result.ids[0, 0], padded(best_ids, max_length))
    np.testing.assert_allclose(result.scores[0, 0], best_score, atol=1e-5)
    np.testing.assert_allclose(result.log_probs[0, 0], best_score, atol=1e-5)
    # The other survivor extends the same live beam (token 1's beam died): finite.
    assert np.isfinite(result.scores.numpy()).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("vocabulary_size", [4, 8], ids=["whole vocabulary", "k + 2"])
def test_beam_search_refuses_nan_or_infinite_logits_of_a_live_hypothesis(bad, vocabulary_size):
    # Such logits gave NaN scores, and `top_k` orders the candidates around a NaN wrongly:
    # the search answered a NaN hypothesis first, with no error.
    table = np.zeros((vocabulary_size, vocabulary_size), np.float32)
    table[0, 1] = 2.0
    table[1, 2] = bad
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or \\+inf"):
        BeamSearch(2, n_best=2)(_table_step(table), [0], 3, (), max_length=3)


@pytest.mark.parametrize(
    "build, argument",
    [
        (lambda: TemperatureSampler(math.inf), "temperature"),
        (lambda: TopKSampler(2, temperature=math.inf), "temperature"),
        (lambda: TopPSampler(0.5, temperature=math.inf), "temperature"),
        (lambda: GNMTLengthPenalty(math.inf), "alpha"),
        (lambda: BeamSearch(2, length_penalty=("gnmt", math.inf)), "alpha"),
        (lambda: BeamSearch(2, coverage_penalty=math.inf), "coverage_penalty"),
    ],
)
def test_infinite_hyperparameters_are_refused(build, argument):
    # An infinite temperature divided a masked -inf logit into NaN, an infinite alpha scored
    # every hypothesis longer than one token 0, and an infinite coverage weight times the
    # log(1) = 0 of a covered source is NaN.
    with pytest.raises(ValueError, match=argument):
        build()


@pytest.mark.parametrize("search", [GreedySearch(), BeamSearch(3, n_best=2)], ids=repr)
def test_an_empty_batch_takes_an_empty_per_example_max_length(search):
    # The eager [0] tensor was refused ("`max_length` must be >= 1, got []"), while the
    # same call traced with an unknown batch ran.
    step = _table_step(np.zeros((3, 3), np.float32))
    empty = tf.zeros([0], tf.int32)
    result = search(step, empty, END, (), max_length=empty, max_length_bound=4)
    assert result.ids.shape == (0, search.n_best, 4)
    with pytest.raises(ValueError, match="max_length_bound"):
        search(step, empty, END, (), max_length=empty)


def test_repr_shows_the_penalty_and_the_selector():
    # The repr showed the serialized configs (dicts of module and class names).
    search = BeamSearch(3, length_penalty=("gnmt", 0.6), coverage_penalty=0.2, n_best=2)
    assert repr(search) == (
        "BeamSearch(beam_size=3, length_penalty=GNMTLengthPenalty(alpha=0.6), "
        "coverage_penalty=0.2, n_best=2)"
    )
    assert repr(GreedySearch(TopKSampler(3))) == (
        "GreedySearch(selector=TopKSampler(k=3, temperature=1.0))"
    )
