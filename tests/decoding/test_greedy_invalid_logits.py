"""GreedySearch refuses logits it cannot score, as BeamSearch does. With ArgmaxSelector a +inf
logit was taken as the best token and the result carried NaN log-probabilities (a NaN logit
beside a finite best did the same); a `min_length` that left a live row nothing to choose
was blamed on the logits by the selector."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import ArgmaxSelector, BeamSearch, GreedySearch, TopKSampler
from tests.decoding.test_probe_round4 import _table_step


def _table(bad):
    table = np.zeros((4, 4), np.float32)
    table[0, 1] = 2.0  # step 0 goes to token 1
    table[1, 2 if bad == "+inf" else 3] = np.inf if bad == "+inf" else np.nan
    return table


@pytest.mark.parametrize("bad", ["+inf", "NaN beside a finite best"])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_greedy_refuses_logits_without_log_probabilities(bad, compiled):
    search = GreedySearch()
    run = tf.function(search.__call__) if compiled else search
    with pytest.raises(tf.errors.InvalidArgumentError, match="log-probability is undefined"):
        run(_table_step(_table(bad)), tf.constant([0]), 3, (), max_length=3)
    # BeamSearch with one beam refuses the same logits.
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or \\+inf"):
        BeamSearch(1)(_table_step(_table(bad)), [0], 3, (), max_length=3)


def test_greedy_ignores_bad_logits_after_a_row_ended():
    # Row 0 ends at step 0 (token 3 = end); the table row of the end token holds +inf, which
    # the ended row is fed afterwards: its choice is dropped, nothing to refuse.
    table = np.zeros((4, 4), np.float32)
    table[0, 3] = 5.0
    table[3, 1] = np.inf
    result = GreedySearch()(_table_step(table), [0], 3, (), max_length=3)
    np.testing.assert_array_equal(result.ids.numpy(), [[[3, 0, 0]]])
    np.testing.assert_array_equal(result.lengths.numpy(), [[1]])
    expected = 5.0 - np.log(np.exp(5.0) + 3.0)
    np.testing.assert_allclose(result.log_probs.numpy(), [[expected]], rtol=1e-6)


@pytest.mark.parametrize("selector", [ArgmaxSelector(), TopKSampler(1)], ids=repr)
def test_greedy_names_min_length_when_it_leaves_no_token(selector):
    # A vocabulary of one token, the end token, and min_length 2: nothing may be chosen.
    step = _table_step(np.zeros((1, 1), np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="`min_length` forbids the end"):
        GreedySearch(selector)(step, [0], 0, (), max_length=3, min_length=2, seed=[1, 2])
    # Without min_length the same model ends at once.
    result = GreedySearch(selector)(step, [0], 0, (), max_length=3, seed=[1, 2])
    np.testing.assert_array_equal(result.lengths.numpy(), [[1]])
    np.testing.assert_allclose(result.log_probs.numpy(), [[0.0]])
