"""Decoding probe, round 6: steps answering the wrong number of rows, state rows, selector
seeds and empty inputs; NumPy reference beam search with pruning."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import (
    ArgmaxSelector,
    BeamSearch,
    GreedySearch,
    TemperatureSampler,
    TopKSampler,
    TopPSampler,
)
from tests.decoding.reference import log_softmax, make_step, random_tables

TABLE = np.log(np.array([[0.2, 0.5, 0.3], [0.3, 0.3, 0.4], [0.25, 0.5, 0.25]], np.float32))
END = 2


def _untiled_step(beam_size):
    """A beam-search step that forgot `tile_to_beam`: one row per example, not per beam."""

    def step(ids, state, index):
        return tf.gather(TABLE, ids[::beam_size]), state

    return step


def test_beam_search_refuses_logits_without_one_row_per_hypothesis():
    # k = 3 beams over V = 3 tokens (the whole-vocabulary path): the step's [B, 3] logits
    # were reshaped by `[B, k, -1]` into [B, 3, 1], every beam scoring one token, and the
    # search answered a wrong hypothesis (token 2 with score log 0.3) with no error.
    step = _untiled_step(3)
    with pytest.raises(ValueError, match=r"logits with 6 rows .*tile_to_beam"):
        BeamSearch(3)(step, [0, 1], END, (), max_length=3)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def decode(start_ids):  # batch unknown while tracing: checked at run time
        return BeamSearch(3)(step, start_ids, END, (), max_length=3).ids

    with pytest.raises(tf.errors.InvalidArgumentError, match="as many rows as input ids"):
        decode(tf.constant([0, 1]))


def test_greedy_refuses_attention_without_one_row_per_example():
    # The [1, S] attention was broadcast over the batch into every example's alignments.
    def step(ids, state, index):
        return tf.gather(TABLE, ids), state, tf.constant([[0.25, 0.75]])

    with pytest.raises(ValueError, match=r"attention with 2 rows"):
        GreedySearch()(step, [0, 1], END, (), max_length=3)


@pytest.mark.parametrize("search", [GreedySearch(), BeamSearch(2)], ids=repr)
def test_initial_state_rows_must_match_the_batch(search):
    # Greedy search ran on with a [1, 4] state for 3 examples; beam search failed in a
    # `GatherV2` deep in the loop ("indices[2] = 2 is not in [0, 2)").
    def step(ids, state, index):
        return tf.gather(TABLE, ids), state

    state = {"h": tf.zeros([3, 4]), "c": (tf.zeros([1, 4]),)}
    with pytest.raises(ValueError, match=r"`initial_state` .* leading dimension of 3"):
        search(step, [0, 1, 2], END, state, max_length=3)


def test_greedy_refuses_a_step_state_with_other_rows():
    # A step that answers a one-row state for a batch of two was run on silently.
    def step(ids, state, index):
        return tf.gather(TABLE, ids), tf.reduce_mean(state, axis=0, keepdims=True)

    with pytest.raises(ValueError, match=r"state `step` returned .* leading dimension of 2"):
        GreedySearch()(step, [0, 1], END, tf.zeros([2, 3]), max_length=3)


LOGITS = tf.constant(np.tile(np.log([[0.1, 0.2, 0.3, 0.4]]), (64, 1)).astype(np.float32))


@pytest.mark.parametrize(
    "sampler", [TemperatureSampler(0.8), TopKSampler(3), TopPSampler(0.9)], ids=repr
)
def test_selectors_take_the_seed_forms_the_searches_take(sampler):
    # An int seed (as the searches take) failed in the random op: "seed must have shape
    # [2], not []".
    expected = sampler(LOGITS, seed=tf.constant([7, 0], tf.int64)).numpy()
    np.testing.assert_array_equal(sampler(LOGITS, seed=7), expected)
    np.testing.assert_array_equal(sampler(LOGITS, seed=tf.constant(7)), expected)
    assert len(set(expected.tolist())) > 1  # the draws are random, not one token
    with pytest.raises(ValueError, match="`seed`"):
        sampler(LOGITS, seed=[1, 2, 3])
    with pytest.raises(TypeError, match="`seed`"):
        sampler(LOGITS, seed=[1.0, 2.0])


@pytest.mark.parametrize(
    "selector", [ArgmaxSelector(), TemperatureSampler(), TopKSampler(2), TopPSampler(0.5)], ids=repr
)
def test_selectors_name_an_empty_vocabulary(selector):
    # Logits [2, 0] failed in ArgMax / StatelessMultinomial ("num_classes should be
    # positive, got 0").
    with pytest.raises(ValueError, match="at least one token"):
        selector(tf.zeros([2, 0]), seed=[1, 2])


@pytest.mark.parametrize("search", [GreedySearch(), BeamSearch(2, n_best=2)], ids=repr)
def test_an_empty_list_of_start_ids_is_an_empty_batch(search):
    # `[]` converts to float32 and was refused: "`start_ids` must be integer token ids".
    def step(ids, state, index):
        return tf.gather(TABLE, ids), state

    result = search(step, [], END, (), max_length=3)
    assert result.ids.shape == (0, search.n_best, 3)
    assert result.scores.shape == (0, search.n_best)


def _numpy_beam_search(logits, start, end, beam_size, max_length, min_length, penalty):
    """A plain reference beam search: all candidates of all beams ranked at each step
    (ties: lower beam, then lower token), complete hypotheses kept frozen in the beam."""
    log_probs = log_softmax(logits)
    beams = [(0.0, [], False)]  # only the first copy of the example is expanded at step 0
    for index in range(max_length):
        candidates = []
        for beam, (log_prob, ids, complete) in enumerate(beams):
            if complete:
                candidates.append((log_prob / penalty(len(ids)), beam, end, beams[beam]))
                continue
            previous = ids[-1] if ids else start
            for token in range(logits.shape[-1]):
                if token == end and index < min_length:
                    continue
                total = log_prob + log_probs[index, previous, token]
                done = token == end or index + 1 >= max_length
                hypothesis = (total, ids + [token], done)
                candidates.append((total / penalty(index + 1), beam, token, hypothesis))
        candidates.sort(key=lambda candidate: (-candidate[0], candidate[1], candidate[2]))
        beams = [candidate[3] for candidate in candidates[:beam_size]]
        if all(complete for _, _, complete in beams):
            break
    return [(log_prob / penalty(len(ids)), ids) for log_prob, ids, _ in beams]


@pytest.mark.parametrize(
    "seed, vocabulary_size, beam_size, max_length, end, min_length, length_penalty",
    [
        (0, 5, 2, 5, 1, 0, None),
        (1, 7, 3, 4, 6, 1, ("gnmt", 0.7)),  # k + 2 candidates a beam
        (2, 9, 4, 5, 0, 2, "average"),
        (3, 4, 3, 5, 3, 0, "average"),  # whole vocabulary: V < k + 2
    ],
)
def test_pruned_beam_search_equals_a_numpy_beam_search(
    seed, vocabulary_size, beam_size, max_length, end, min_length, length_penalty
):
    """A beam too narrow to be exhaustive prunes; it must prune exactly as the textbook
    search does (same survivors, same order, ties included: the logits are rounded)."""
    logits, _ = random_tables(seed, max_length, vocabulary_size)
    logits = np.round(logits * 2) / 2
    penalty = {
        None: lambda length: 1.0,
        "average": lambda length: float(length),
    }.get(length_penalty, lambda length: ((5.0 + length) / 6.0) ** 0.7)
    starts = [0, vocabulary_size - 1, 2]
    result = BeamSearch(beam_size, length_penalty=length_penalty, n_best=beam_size)(
        make_step(logits), starts, end, (), max_length=max_length, min_length=min_length
    )
    for row, start in enumerate(starts):
        expected = _numpy_beam_search(
            logits, start, end, beam_size, max_length, min_length, penalty
        )
        for j, (score, ids) in enumerate(expected):
            assert result.ids[row, j, : len(ids)].numpy().tolist() == ids, (row, j)
            assert (result.ids[row, j, len(ids) :].numpy() == 0).all()
            assert result.lengths[row, j] == len(ids)
            np.testing.assert_allclose(result.scores[row, j], score, atol=1e-5)


def _dead_end_step():
    """Bigram logits over 4 tokens (end token 3) where nothing may follow token 1 (its row
    is all -inf), with attention over 2 source positions: few hypotheses are possible."""
    table = np.full((4, 4), -np.inf, np.float32)
    table[0, :] = np.log([0.1, 0.5, 0.3, 0.1])
    table[2, :] = np.log([0.2, 0.2, 0.2, 0.4])
    table[0, 0] = -np.inf  # token 0 is never produced
    table[2, 0] = -np.inf
    table[3, :] = 0.0  # fed after the end: ignored
    attention = tf.constant([[0.5, 0.5], [0.9, 0.1], [0.3, 0.7], [1.0, 0.0]])
    table = tf.constant(table)

    def step(ids, state, index):
        return tf.gather(table, ids), state, tf.gather(attention, ids)

    return step


@pytest.mark.parametrize("max_length", [1, 3])
def test_unfilled_slots_hold_no_tokens(max_length):
    # More beams than hypotheses: the slots scored -inf used to hold the tokens of the -inf
    # candidate picked for them (copies of real hypotheses' tokens, or the prefix of a
    # hypothesis that died at a dead end), length >= 1 and finite token scores that did not
    # sum to their -inf log-probability.
    result = BeamSearch(8, n_best=8)(_dead_end_step(), [0], 3, (), max_length=max_length)
    scores = result.scores.numpy()[0]
    unfilled = np.isneginf(scores)
    # From <s> = 0 (never token 0): [1], [2] or [3] for max_length = 1; for 3, [1, ..] and
    # [2, 1, ..] die at their dead end, leaving [3], [2, 3] and [2, 2, v] for v in 1, 2, 3.
    expected = {1: [[1], [2], [3]], 3: [[3], [2, 3], [2, 2, 1], [2, 2, 2], [2, 2, 3]]}
    expected = expected[max_length]
    assert (~unfilled).sum() == len(expected)
    assert unfilled.sum() == 8 - len(expected)
    ids = result.ids.numpy()[0]
    assert sorted(ids[j, : result.lengths[0, j]].tolist() for j in np.flatnonzero(~unfilled)) == (
        sorted(expected)
    )
    assert (ids[unfilled] == 0).all()
    assert (result.lengths.numpy()[0][unfilled] == 0).all()
    assert (result.token_scores.numpy()[0][unfilled] == 0).all()
    assert (result.alignments.numpy()[0][unfilled] == 0).all()
    assert np.isneginf(result.log_probs.numpy()[0][unfilled]).all()
    np.testing.assert_allclose(
        result.token_scores.numpy()[0][~unfilled].sum(-1),
        result.log_probs.numpy()[0][~unfilled],
        atol=1e-6,
    )
