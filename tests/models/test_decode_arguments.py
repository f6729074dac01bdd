"""The models' `decode` passes the search arguments through: `Seq2Seq.decode` had no `seed`
(sampled translations could not be reproduced), `RNNLanguageModel.decode` no
`max_length_bound` (a run-time `max_length` failed asking for it) nor `min_length`."""

import numpy as np
import tensorflow as tf

from keras_seq.decoding import GreedySearch, TemperatureSampler
from keras_seq.models import RNNLanguageModel, Seq2Seq
from tests.layers.helpers import randomize

SOURCE = np.array([[5, 6, 7, 8], [9, 4, 0, 0]], "int32")
END_ID = 2


def sampler():
    return GreedySearch(TemperatureSampler(1.0))


def test_seq2seq_decode_takes_a_seed():
    model = Seq2Seq(30, 30, embedding_dim=4, units=8)
    model.build()
    randomize(model, np.random.default_rng(0), scale=0.3)
    runs = [model.decode(SOURCE, sampler(), max_length=12, seed=seed).ids for seed in (3, 3, 4)]
    np.testing.assert_array_equal(runs[0], runs[1])
    # Near-uniform over 30 tokens, 12 steps: another seed draws other tokens.
    assert not np.array_equal(runs[0], runs[2])


def test_language_model_decode_runs_a_run_time_max_length_and_a_min_length():
    model = RNNLanguageModel(20, embedding_dim=4, units=8)
    model.build()
    randomize(model, np.random.default_rng(1), scale=0.3)
    # </s> is the likeliest token by far: greedy search ends at once without a minimum.
    model.output_layer.bias.assign(np.where(np.arange(20) == END_ID, 10.0, 0.0))
    prompt = np.array([[1, 5, 6], [1, 7, 0]], "int32")
    assert model.decode(prompt, GreedySearch(), max_length=5).lengths.numpy().tolist() == [
        [1],
        [1],
    ]

    @tf.function(input_signature=[tf.TensorSpec([2], tf.int32)])
    def bounded(max_length):
        return model.decode(
            prompt, GreedySearch(), max_length, min_length=2, max_length_bound=6
        ).lengths

    lengths = bounded(tf.constant([4, 9])).numpy()
    # At least 2 tokens before </s>, which comes at once after: 3 tokens, within the lengths.
    np.testing.assert_array_equal(lengths, [[3], [3]])
    np.testing.assert_array_equal(bounded(tf.constant([2, 1])).numpy(), [[2], [1]])
