"""Decoding probe, round 11: hyperparameters beyond float32, length penalties overflowing
float32, the top-p boundary at p, tiny p, None in `tile_to_beam` and in the step's state."""

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
    tile_to_beam,
)
from tests.decoding.reference import log_softmax

TABLE = np.log(np.array([[0.1, 0.6, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]], np.float32))
END = 2


def _step(ids, state, index):
    return tf.gather(tf.constant(TABLE), ids), state


@pytest.mark.parametrize(
    "build, argument",
    [
        (lambda: TemperatureSampler(1e39), "temperature"),
        (lambda: TopKSampler(2, temperature=1e300), "temperature"),
        (lambda: TopPSampler(0.5, temperature=1e39), "temperature"),
        (lambda: GNMTLengthPenalty(1e39), "alpha"),
        (lambda: BeamSearch(2, length_penalty=("gnmt", 1e300)), "alpha"),
        (lambda: BeamSearch(2, coverage_penalty=1e39), "coverage_penalty"),
    ],
)
def test_hyperparameters_beyond_float32_are_refused(build, argument):
    # Finite as Python floats, they are +inf in float32 and passed the "finite" checks: a
    # temperature of 1e39 divided a masked -inf logit into NaN (`filter_logits` answered NaN,
    # and TopPSampler(0.5) drew either of two tied tokens), a coverage weight of 1e39 times
    # log(1) = 0 and an alpha of 1e39 (-inf / inf) gave NaN scores, which the search refused
    # as "the step's logits hold NaN or +inf".
    with pytest.raises(ValueError, match=f"`{argument}` .*float32"):
        build()


def test_the_largest_float32_temperature_is_kept_and_masks_stay_masked():
    logits = tf.constant([[0.0, -1.0, -np.inf]])
    filtered = TemperatureSampler(3.4e38).filter_logits(logits).numpy()
    assert np.isneginf(filtered[0, 2]) and np.isfinite(filtered[0, :2]).all()


def test_a_length_penalty_overflowing_float32_does_not_make_masked_candidates_nan():
    # GNMT alpha = 200 at 8 tokens: lp = (13 / 6) ** 200 = +inf in float32. The -inf
    # candidates (other tokens of a frozen hypothesis) scored -inf / inf = NaN and the search
    # raised "the step's logits of a live hypothesis hold NaN or +inf".
    max_length = 8
    result = BeamSearch(3, length_penalty=("gnmt", 200.0), n_best=3)(
        _step, [0], END, (), max_length=max_length
    )
    # Exactly, the scores are log P / lp, about -1e-66 at 8 tokens: -0.0 in float32, above any
    # shorter hypothesis (e.g. [1, 2]: log 0.48 / (7/6) ** 200 = -1e-14), so the longest win.
    np.testing.assert_array_equal(result.lengths, [[max_length] * 3])
    np.testing.assert_array_equal(result.scores, [[0.0] * 3])
    log_probs = log_softmax(TABLE)
    for j in range(3):
        ids = result.ids.numpy()[0, j]
        previous = [0] + ids[:-1].tolist()
        expected = sum(log_probs[previous[t], ids[t]] for t in range(max_length))
        np.testing.assert_allclose(result.log_probs[0, j], expected, rtol=1e-5)
        assert END not in ids[:-1].tolist()


@pytest.mark.parametrize(
    "probabilities, p, nucleus",
    [
        ([0.6, 0.4], 0.6, [0]),
        ([0.3, 0.3, 0.2, 0.2], 0.6, [0, 1]),
        ([0.45, 0.45, 0.1], 0.9, [0, 1]),
        ([0.4, 0.3, 0.2, 0.1], 0.9, [0, 1, 2]),
        ([0.3, 0.3, 0.2, 0.2], 0.61, [0, 1, 2]),  # just above the boundary: one more token
        ([0.6, 0.4], 0.59, [0]),
    ],
)
def test_top_p_stops_at_a_mass_of_exactly_p(probabilities, p, nucleus):
    # The float32 mass before the third token of [0.3, 0.3, 0.2, 0.2] is 0.59999996 < 0.6:
    # p = 0.6 kept three tokens (and drew the third one a quarter of the time), not the two
    # whose mass is p.
    logits = tf.math.log(tf.constant([probabilities], tf.float32))
    filtered = TopPSampler(p).filter_logits(logits).numpy()[0]
    assert np.flatnonzero(np.isfinite(filtered)).tolist() == nucleus
    draws = TopPSampler(p)(tf.tile(logits, [400, 1]), seed=5).numpy()
    assert set(draws.tolist()) == set(nucleus)


@pytest.mark.parametrize("p", [1e-50, 1e-40])
def test_a_p_below_float32_range_keeps_the_most_likely_token(p):
    # p is 0 (or flushed to 0) in float32: no mass is < 0, every token was dropped, and the
    # sampler raised "a row of `logits` holds NaN or +inf, or only -inf".
    logits = tf.constant([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    filtered = TopPSampler(p).filter_logits(logits).numpy()
    np.testing.assert_array_equal(np.isfinite(filtered), [[0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(TopPSampler(p)(logits, seed=1), [1, 2])


def test_tile_to_beam_keeps_a_none():
    # `tile_to_beam((memory, None), k)` (a model without a source mask) failed: "Attempt to
    # convert a value (None) with an unsupported type".
    memory = tf.constant([[1.0], [2.0]])
    tiled, mask = tile_to_beam((memory, None), 2)
    assert mask is None
    np.testing.assert_array_equal(tiled, [[1.0], [1.0], [2.0], [2.0]])


@pytest.mark.parametrize("search", [GreedySearch(), BeamSearch(2)], ids=repr)
def test_a_step_returning_a_none_state_is_a_type_error_naming_the_step(search):
    # A stateless step answering `None` (not `()`) failed deep in the loop: greedy search
    # with "'NoneType' object has no attribute 'shape'", beam search with "Tried to convert
    # 'params' to a tensor and failed".
    def step(ids, state, index):
        return tf.gather(tf.constant(TABLE), ids), None

    with pytest.raises(TypeError, match="`step` must return a state .* without None"):
        search(step, [0], END, (), max_length=3)

    def nested(ids, state, index):
        return tf.gather(tf.constant(TABLE), ids), {"h": state["h"], "cache": None}

    with pytest.raises(TypeError, match="`step` must return a state"):
        search(nested, [0], END, {"h": tf.zeros([1, 2])}, max_length=3)


def test_a_top_k_beyond_int32_keeps_a_vocabulary_unknown_while_tracing():
    # "A k larger than the vocabulary keeps the whole vocabulary": with the vocabulary size
    # only known at run time, a k of 2**40 failed to trace (a TypeError converting it to int32
    # against `tf.shape`).
    sampler = TopKSampler(2**40, temperature=0.5)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def filtered(logits):
        return sampler.filter_logits(logits)

    logits = tf.constant([[1.0, 2.0, -np.inf], [0.5, -1.0, 3.0]])
    np.testing.assert_array_equal(filtered(logits), logits.numpy() / 0.5)


def test_a_beam_size_beyond_int32_is_refused_at_construction():
    # 2**31 was accepted and wrapped to a negative size in the graph: translate(beam_size=2**31)
    # failed at trace with "Dimension size ... must be non-negative" from one_hot.
    with pytest.raises(
        ValueError, match=r"`beam_size` must be >= 1 and <= 2\*\*31 - 1, got 2147483648"
    ):
        BeamSearch(2**31)
    assert BeamSearch(2**31 - 1, n_best=1).beam_size == 2**31 - 1
