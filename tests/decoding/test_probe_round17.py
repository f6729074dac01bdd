"""Decoding probe, round 17: beam search with the coverage penalty against a NumPy beam
search, with per-example max lengths and pruned candidates.

A complete hypothesis was scored again at every later step (its log-probability over
`lp(length)` plus its coverage penalty). The vectorized `log` kernel rounds a value
differently by its position in the tensor, so two hypotheses tied when they completed (two
tokens of one beam) drifted an ulp apart once the search went on for another example of the
batch, and swapped: an example decoded among others returned its n-best in another order
(another best hypothesis) than decoded alone, against the lower-token-first tie rule.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import BeamSearch
from tests.decoding.reference import coverage_term, log_softmax, make_step, random_tables

PENALTIES = {
    None: lambda length: 1.0,
    "average": lambda length: float(length),
    ("gnmt", 0.7): lambda length: ((5.0 + length) / 6.0) ** 0.7,
}


def _numpy_beam_search(logits, attention, start, end, beam_size, max_length, min_length, lp, beta):
    """The textbook beam search in float64: every candidate of every beam ranked at each step
    (ties: lower beam, then lower token), the coverage penalty on complete hypotheses only,
    complete hypotheses kept frozen in the beam. Returns `(score, ids)` best first."""
    log_probs = log_softmax(logits)
    beams = [(0.0, [], False, np.zeros(attention.shape[-1]))]
    for index in range(max_length):
        candidates = []
        for beam, (log_prob, ids, complete, coverage) in enumerate(beams):
            if complete:
                score = log_prob / lp(len(ids)) + beta * coverage_term(coverage)
                candidates.append((score, beam, end, beams[beam]))
                continue
            previous = ids[-1] if ids else start
            covered = coverage + attention[index, previous]
            for token in range(logits.shape[-1]):
                if token == end and index < min_length:
                    continue
                total = log_prob + log_probs[index, previous, token]
                done = token == end or index + 1 >= max_length
                score = total / lp(index + 1) + (beta * coverage_term(covered) if done else 0.0)
                candidates.append((score, beam, token, (total, ids + [token], done, covered)))
        candidates.sort(key=lambda candidate: (-candidate[0], candidate[1], candidate[2]))
        beams = [candidate[3] for candidate in candidates[:beam_size]]
        if all(beam[2] for beam in beams):
            break
    return [
        (log_prob / lp(len(ids)) + beta * coverage_term(coverage), ids)
        for log_prob, ids, _, coverage in beams
    ]


@pytest.mark.parametrize(
    "seed, vocabulary_size, beam_size, length_penalty, beta, min_length",
    [
        (1, 6, 2, ("gnmt", 0.7), 0.5, 0),  # ties at completion that drifted apart
        (0, 9, 3, "average", 0.5, 2),
        (2, 6, 1, None, 0.5, 0),
        (3, 9, 2, ("gnmt", 0.7), 0.0, 2),
    ],
)
def test_pruned_beam_search_with_coverage_equals_a_numpy_beam_search(
    seed, vocabulary_size, beam_size, length_penalty, beta, min_length
):
    logits, attention = random_tables(seed, 5, vocabulary_size, 3)
    logits = np.round(logits * 2) / 2  # ties
    end = seed % vocabulary_size
    starts, max_lengths = [0, vocabulary_size - 1, 2], [5, 2, 4]
    result = BeamSearch(
        beam_size, length_penalty=length_penalty, coverage_penalty=beta, n_best=beam_size
    )(
        make_step(logits, attention),
        starts,
        end,
        (),
        max_length=tf.constant(max_lengths),
        min_length=min_length,
    )
    for row, start in enumerate(starts):
        expected = _numpy_beam_search(
            logits,
            attention,
            start,
            end,
            beam_size,
            max_lengths[row],
            min_length,
            PENALTIES[length_penalty],
            beta,
        )
        for j, (score, ids) in enumerate(expected):
            length = int(result.lengths[row, j])
            assert result.ids[row, j, :length].numpy().tolist() == ids, (row, j)
            assert (result.ids[row, j, length:].numpy() == 0).all()
            np.testing.assert_allclose(result.scores[row, j], score, atol=1e-5)


def test_a_hypothesis_keeps_the_score_it_completed_with_while_the_batch_goes_on():
    # Example 2 completes its two hypotheses at step 4, tied ([3, 0, 3, 1] and [3, 0, 3, 5]:
    # one beam, tokens 1 and 5 of equal logits). Example 0 runs a fifth step, where example
    # 2's frozen hypotheses were scored again (-3.0832632 and -3.0832634) and swapped.
    logits, attention = random_tables(1, 5, 6, 3)
    logits = np.round(logits * 2) / 2
    search = BeamSearch(2, length_penalty=("gnmt", 0.7), coverage_penalty=0.5, n_best=2)

    def decode(max_lengths):
        return search(
            make_step(logits, attention), [0, 5, 2], 1, (), max_length=tf.constant(max_lengths)
        )

    longer, stopped = decode([5, 2, 4]), decode([4, 2, 4])
    expected = [[3, 0, 3, 1], [3, 0, 3, 5]]  # tied: lower token first
    assert longer.ids[2, :, :4].numpy().tolist() == expected
    assert stopped.ids[2].numpy().tolist() == expected
    # Bit for bit the scores they completed with (and so still tied).
    np.testing.assert_array_equal(longer.scores[2].numpy(), stopped.scores[2].numpy())
    assert longer.scores[2, 0] == longer.scores[2, 1]
    lp = ((5.0 + 4) / 6.0) ** 0.7
    for j, ids in enumerate(expected):
        previous = [2] + ids[:-1]
        log_prob = sum(log_softmax(logits)[t, previous[t], ids[t]] for t in range(4))
        coverage = sum(attention[t, previous[t]] for t in range(4))
        score = log_prob / lp + 0.5 * coverage_term(coverage)
        np.testing.assert_allclose(longer.scores[2, j], score, rtol=1e-6)
