"""A language model asked for up to 10**9 tokens needs memory for the tokens it says.

`RNNLanguageModel.generate(max_length=10**9)` allocated its search's buffers for 10**9
steps up front: the process filled the machine's memory and was killed after 51 s, with no
error, though `</s>` came within 20 tokens. The search's buffers now grow above 1024 steps
(`keras_seq.decoding.decoding_strategy.GROWING_BUFFERS_ABOVE`).
"""

import numpy as np
import tensorflow as tf

from keras_seq.decoding import GreedySearch, TopKSampler
from keras_seq.models import RNNLanguageModel
from keras_seq.text import WordTokenizer
from tests.layers.helpers import randomize

END_ID = 2
CORPUS = ["the cat sat on the mat", "a dog ran in the park", "the bird sang a song"]


def ending_model(end_bias):
    """A tied word LM with random weights whose `</s>` logit is raised by ``end_bias``."""
    model = RNNLanguageModel(
        embedding_dim=8, units=8, tokenizer=WordTokenizer.from_corpus(CORPUS), tie_weights=True
    )
    model.build()
    randomize(model, np.random.default_rng(3), scale=0.5)
    bias = np.zeros(model.vocabulary_size, "float32")
    bias[END_ID] = end_bias
    model.output_bias.assign(bias)
    return model


def test_generate_with_a_huge_max_length_answers_as_with_a_sufficient_one():
    model = ending_model(end_bias=1.5)
    prompts = ["the cat", "", "a dog ran"]
    prompt_ids = model.prompt_ids_from_text(tf.constant(prompts))
    search = GreedySearch(TopKSampler(4))
    lengths = model.decode(prompt_ids, search, max_length=10**9, seed=11).lengths.numpy()
    # Sampled, </s> ends every row long before the 300 tokens of the reference call...
    assert 1 < lengths.max() < 300
    for seed in (11, 12):
        expected = model.generate(prompts, max_length=300, top_k=4, seed=seed)
        for max_length in (10**9, 2**31 - 1):
            assert model.generate(prompts, max_length=max_length, top_k=4, seed=seed) == expected


def test_decode_with_a_huge_max_length_returns_the_steps_run():
    model = ending_model(end_bias=1.5)
    prompt_ids = model.prompt_ids_from_text(tf.constant(["the cat", "the bird"]))
    search = GreedySearch(TopKSampler(4))
    whole = model.decode(prompt_ids, search, max_length=300, seed=5)
    grown = model.decode(prompt_ids, search, max_length=10**9, seed=5)
    steps = int(whole.lengths.numpy().max())
    assert whole.ids.shape[-1] == 300 and grown.ids.shape[-1] == steps
    np.testing.assert_array_equal(grown.ids.numpy(), whole.ids.numpy()[:, :, :steps])
    np.testing.assert_array_equal(grown.lengths.numpy(), whole.lengths.numpy())
    np.testing.assert_allclose(grown.log_probs.numpy(), whole.log_probs.numpy(), atol=1e-5)
