"""Round 15: the samplers' distributions under XLA and `tf.function` against exact
probabilities, and a beam wider than the vocabulary against the exhaustive search with rows
of one batch ending at different steps. No bug found here; the `TokenSelector` docstring
claimed XLA draws the same tokens as eager execution for a seed, which it does not (it draws
another sample of the same distribution), and now says so."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import BeamSearch, TemperatureSampler, TopKSampler, TopPSampler
from tests.decoding.reference import enumerate_hypotheses, gnmt_penalty, random_tables

PROBABILITIES = np.array([0.05, 0.1, 0.15, 0.3, 0.4])
DRAWS = 20000


def _exact(kind, value):
    """The probabilities each sampler draws from, renormalized in float64."""
    if kind == "temperature":
        scaled = np.log(PROBABILITIES) / value
        probabilities = np.exp(scaled - scaled.max())
        return probabilities / probabilities.sum()
    order = np.argsort(-PROBABILITIES)
    if kind == "top_k":
        kept = order[:value]
    else:  # top_p: the shortest prefix whose mass reaches p
        mass_before = np.cumsum(PROBABILITIES[order]) - PROBABILITIES[order]
        kept = order[mass_before < value]
    probabilities = np.zeros_like(PROBABILITIES)
    probabilities[kept] = PROBABILITIES[kept]
    return probabilities / probabilities.sum()


SAMPLERS = [
    (TemperatureSampler(0.5), ("temperature", 0.5)),
    (TopKSampler(3), ("top_k", 3)),
    (TopPSampler(0.7), ("top_p", 0.7)),
]


@pytest.mark.parametrize("how", ["tf.function", "xla"])
@pytest.mark.parametrize("sampler, kind", SAMPLERS, ids=lambda x: repr(x))
def test_samplers_draw_from_the_exact_distribution(how, sampler, kind):
    logits = tf.constant(np.tile(np.log(PROBABILITIES), (DRAWS, 1)), tf.float32)
    draw = tf.function(lambda l, s: sampler(l, seed=s), jit_compile=how == "xla")
    ids = draw(logits, tf.constant([15, 1])).numpy()
    counts = np.bincount(ids, minlength=len(PROBABILITIES))
    expected = _exact(*kind)
    assert counts[expected == 0].sum() == 0  # nothing outside the top k or the nucleus
    kept = expected > 0
    # Pearson's chi-square with at most 4 degrees of freedom: a correct sampler exceeds 25
    # once in 2 * 10**4 seeds.
    expected_counts = expected[kept] * DRAWS
    assert np.sum((counts[kept] - expected_counts) ** 2 / expected_counts) < 25.0
    # A seed is reproducible under either compilation; tf.function draws as eager does.
    np.testing.assert_array_equal(draw(logits, tf.constant([15, 1])).numpy(), ids)
    if how == "tf.function":
        np.testing.assert_array_equal(sampler(logits, seed=tf.constant([15, 1])).numpy(), ids)


@pytest.mark.parametrize(
    "length_penalty, penalty",
    [(None, None), (("gnmt", 1.0), gnmt_penalty(1.0)), ("average", lambda n: float(n))],
)
def test_a_beam_wider_than_the_vocabulary_is_the_exhaustive_search(length_penalty, penalty):
    vocabulary_size, end_id, bound = 3, 1, 3
    logits, _ = random_tables(15, bound, vocabulary_size)
    tables = tf.constant(logits)

    def step(ids, state, index):
        return tf.gather(tf.gather(tables, index), ids), state

    start_ids = [0, 2, 0]
    max_lengths, min_lengths = [3, 1, 2], [0, 1, 1]  # rows end at different steps
    result = BeamSearch(30, length_penalty=length_penalty, n_best=3)(
        step,
        tf.constant(start_ids),
        end_id,
        (),
        max_length=tf.constant(max_lengths),
        min_length=tf.constant(min_lengths),
        max_length_bound=bound,
    )
    for row, (start, max_length, min_length) in enumerate(
        zip(start_ids, max_lengths, min_lengths, strict=True)
    ):
        expected = enumerate_hypotheses(
            logits, start, end_id, max_length, min_length, length_penalty=penalty
        )
        for rank in range(min(3, len(expected))):
            length = int(result.lengths[row, rank])
            assert length == expected[rank]["length"]
            assert result.ids[row, rank, :length].numpy().tolist() == expected[rank]["ids"]
            np.testing.assert_allclose(
                result.scores[row, rank], expected[rank]["score"], rtol=1e-5, atol=1e-5
            )
            np.testing.assert_allclose(
                result.log_probs[row, rank], expected[rank]["log_prob"], rtol=1e-5, atol=1e-5
            )
        for rank in range(len(expected), 3):  # fewer hypotheses than n_best
            assert result.scores[row, rank] == -np.inf
            assert int(result.lengths[row, rank]) == 0
