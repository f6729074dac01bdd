import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import (
    GreedySearch,
    TemperatureSampler,
    TopKSampler,
    TopPSampler,
)
from tests.decoding.reference import log_softmax, make_step, random_tables

END = 2


def greedy_reference(logits, start_id, end_id, max_length):
    """Step-by-step argmax over the table, in NumPy."""
    log_probs = log_softmax(logits)
    ids, scores, previous = [], [], start_id
    for index in range(max_length):
        token = int(np.argmax(log_probs[index, previous]))
        ids.append(token)
        scores.append(log_probs[index, previous, token])
        if token == end_id:
            break
        previous = token
    return ids, scores


def test_greedy_follows_the_argmax_path():
    logits, attention = random_tables(1, 6, 5, source_length=3)
    starts = [0, 1, 3, 4]
    result = GreedySearch()(
        make_step(logits, attention), starts, end_id=END, initial_state=(), max_length=6
    )
    assert result.ids.shape == (4, 1, 6)
    assert result.alignments.shape == (4, 1, 6, 3)
    for row, start in enumerate(starts):
        ids, scores = greedy_reference(logits, start, END, 6)
        np.testing.assert_array_equal(result.ids[row, 0], ids + [0] * (6 - len(ids)))
        assert result.lengths[row, 0] == len(ids)
        np.testing.assert_allclose(result.token_scores[row, 0, : len(ids)], scores, atol=1e-5)
        np.testing.assert_allclose(result.log_probs[row, 0], np.sum(scores), atol=1e-5)
        np.testing.assert_allclose(result.scores[row, 0], np.sum(scores), atol=1e-5)
        previous = [start] + ids[:-1]
        np.testing.assert_allclose(
            result.alignments[row, 0, : len(ids)],
            [attention[t, previous[t]] for t in range(len(ids))],
            atol=1e-6,
        )
        assert (result.alignments.numpy()[row, 0, len(ids) :] == 0).all()


@pytest.mark.parametrize(
    "selector", [TopKSampler(k=1), TemperatureSampler(1e-4), TopPSampler(p=1e-6)]
)
def test_degenerate_samplers_equal_greedy(selector):
    logits, _ = random_tables(6, 7, 6)
    step = make_step(logits)
    kwargs = dict(end_id=END, initial_state=(), max_length=7, min_length=1)
    greedy = GreedySearch()(step, [0, 1, 3, 5], **kwargs)
    sampled = GreedySearch(selector)(step, [0, 1, 3, 5], seed=11, **kwargs)
    np.testing.assert_array_equal(sampled.ids, greedy.ids)
    np.testing.assert_allclose(sampled.scores, greedy.scores, atol=1e-6)


def test_seeded_sampling_is_reproducible_and_seeds_differ():
    logits, _ = random_tables(4, 8, 5)
    step = make_step(logits * 0.3)  # flat distributions: many different samples
    search = GreedySearch(TemperatureSampler(1.0))
    kwargs = dict(end_id=END, initial_state=(), max_length=8)
    starts = [0, 1, 3, 4]
    first = search(step, starts, seed=7, **kwargs)
    again = search(step, starts, seed=tf.constant([7, 0]), **kwargs)
    other = search(step, starts, seed=8, **kwargs)
    np.testing.assert_array_equal(first.ids, again.ids)
    assert (first.ids.numpy() != other.ids.numpy()).any()
    # Whatever was drawn, the scores are the model's log-probabilities of it.
    log_probs = log_softmax(logits * 0.3)
    for row, start in enumerate(starts):
        length = first.lengths[row, 0].numpy()
        ids = first.ids[row, 0, :length].numpy()
        previous = [start] + ids[:-1].tolist()
        expected = [log_probs[t, previous[t], ids[t]] for t in range(length)]
        np.testing.assert_allclose(first.token_scores[row, 0, :length], expected, atol=1e-5)
        assert (ids[:-1] != END).all()


def test_sampled_first_tokens_follow_the_nucleus():
    """Each row of the batch draws independently from the renormalized nucleus."""
    probabilities = np.array([0.45, 0.25, 0.02, 0.18, 0.1])
    logits = np.broadcast_to(np.log(probabilities), (1, 5, 5)).astype(np.float32)
    draws = 6000
    result = GreedySearch(TopPSampler(p=0.8))(
        make_step(logits),
        tf.zeros([draws], tf.int32),
        end_id=END,
        initial_state=(),
        max_length=1,
        seed=21,
    )
    counts = np.bincount(result.ids.numpy()[:, 0, 0], minlength=5)
    kept = [0, 1, 3]  # 0.45 + 0.25 < 0.8 <= 0.45 + 0.25 + 0.18
    assert counts[[2, 4]].sum() == 0
    expected = probabilities[kept] / probabilities[kept].sum() * draws
    statistic = ((counts[kept] - expected) ** 2 / expected).sum()
    assert statistic < 13.82  # 99.9% quantile of chi-square with 2 degrees of freedom


def test_sampling_respects_min_and_max_length():
    likely_end = np.log(np.array([[0.1, 0.1, 0.8]] * 3, np.float32))
    step = make_step(np.broadcast_to(likely_end, (6, 3, 3)))
    result = GreedySearch(TemperatureSampler(1.0))(
        step,
        tf.zeros([50], tf.int32),
        end_id=END,
        initial_state=(),
        max_length=tf.fill([50], 4),
        min_length=2,
        seed=3,
        max_length_bound=6,
    )
    ids, lengths = result.ids.numpy()[:, 0], result.lengths.numpy()[:, 0]
    assert ids.shape == (50, 6)
    assert (ids[:, :2] != END).all()
    assert ((lengths >= 3) & (lengths <= 4)).all()
    assert (ids[:, 4:] == 0).all()


def test_unseeded_sampling_runs_under_an_input_signature():
    logits, _ = random_tables(2, 5, 4)
    search = GreedySearch(TopKSampler(3))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def sample(start_ids):
        return search(make_step(logits), start_ids, END, (), max_length=5).ids

    ids = sample(tf.constant([0, 1, 3]))
    assert ids.shape == (3, 1, 5)
    assert ((ids.numpy() >= 0) & (ids.numpy() < 4)).all()


def test_get_config_round_trip():
    search = GreedySearch(TopPSampler(0.9, temperature=0.7))
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(search))
    assert isinstance(revived.selector, TopPSampler)
    assert revived.get_config() == search.get_config()


def test_bad_arguments():
    step = make_step(random_tables(0, 3, 4)[0])
    with pytest.raises(TypeError, match="selector"):
        GreedySearch(selector="argmax")
    with pytest.raises(ValueError, match="end_id"):
        GreedySearch()(step, [0], end_id=4, initial_state=(), max_length=3)
    with pytest.raises(ValueError, match="max_length"):
        GreedySearch()(step, [0], end_id=END, initial_state=(), max_length=-2)
    with pytest.raises(ValueError, match="seed"):
        GreedySearch(TopKSampler(2))(
            step, [0], end_id=END, initial_state=(), max_length=3, seed=tf.constant([1, 2, 3])
        )
    for seed in (2**63, -(2**63) - 1):  # out of int64: was TensorFlow's conversion error
        with pytest.raises(ValueError, match=r"`seed` must be an int in \[-2\*\*63, 2\*\*63 - 1\]"):
            GreedySearch(TopKSampler(2))(
                step, [0], end_id=END, initial_state=(), max_length=3, seed=seed
            )
