"""Above `GROWING_BUFFERS_ABOVE` steps the search's buffers grow as it runs.

`RNNLanguageModel.generate(max_length=10**9)` allocated buffers of 10**9 steps up front
and the process was killed for memory, though `</s>` came within 20 steps. The tests
lower the threshold to 2 steps so that tiny searches cross several doublings, and check
every output against the same search with whole buffers (the threshold above the bound),
cut to the steps run.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq.decoding import BeamSearch, GreedySearch, TopKSampler, decoding_strategy
from tests.decoding.reference import enumerate_hypotheses, make_step, random_tables

END, VOCABULARY_SIZE, SOURCE_LENGTH, BOUND = 3, 5, 4, 11


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(decoding_strategy, "GROWING_BUFFERS_ABOVE", 2)


def searches():
    return [
        GreedySearch(),
        GreedySearch(TopKSampler(3)),
        BeamSearch(3, length_penalty=("gnmt", 0.6), coverage_penalty=0.2, n_best=2),
        BeamSearch(2, n_best=1),
    ]


def run(search, step, start_ids, max_length, **kwargs):
    return search(step, tf.constant(start_ids), END, (), max_length=max_length, seed=7, **kwargs)


def assert_cut_from(grown, whole, max_steps):
    """``grown``'s outputs are ``whole``'s cut to its length T (zeros after T in ``whole``)."""
    steps = grown.ids.shape[-1]
    assert 1 <= steps <= max_steps
    assert steps == whole.ids.shape[-1] or not np.any(whole.ids.numpy()[:, :, steps:])
    for name in ("ids", "token_scores", "alignments"):
        if getattr(whole, name) is None:
            assert getattr(grown, name) is None
            continue
        cut = getattr(whole, name).numpy()[:, :, :steps]
        np.testing.assert_allclose(getattr(grown, name).numpy(), cut, atol=1e-6, err_msg=name)
        assert not np.any(getattr(whole, name).numpy()[:, :, steps:]), name
    for name in ("lengths", "scores", "log_probs"):
        np.testing.assert_allclose(
            getattr(grown, name).numpy(), getattr(whole, name).numpy(), atol=1e-6, err_msg=name
        )
    for grown_state, whole_state in zip(
        tf.nest.flatten(grown.state), tf.nest.flatten(whole.state), strict=True
    ):
        np.testing.assert_allclose(grown_state.numpy(), whole_state.numpy(), atol=1e-6)
    return steps


@pytest.mark.parametrize(
    ("index", "with_attention"),
    # Search 2 has a coverage penalty, which needs attention.
    [
        (index, attention)
        for index in range(4)
        for attention in (False, True)
        if index != 2 or attention
    ],
)
def test_growing_buffers_give_the_whole_buffers_outputs(monkeypatch, index, with_attention):
    logits, attention = random_tables(40 + index, BOUND, VOCABULARY_SIZE, SOURCE_LENGTH)
    search = searches()[index]
    step = make_step(logits, attention if with_attention else None)
    start_ids = [0, 2, 4, 1]
    # Lengths ending before, at and after the doublings 2 -> 4 -> 8 -> 11.
    for max_length in (BOUND, tf.constant([2, 3, 8, 11]), tf.constant([4, 5, 9, 1])):
        bound = {} if isinstance(max_length, int) else {"max_length_bound": BOUND}
        whole = run(search, step, start_ids, max_length, **bound)
        assert whole.ids.shape[-1] == BOUND
        with monkeypatch.context() as patch:
            patch.setattr(decoding_strategy, "GROWING_BUFFERS_ABOVE", 2)
            grown = run(search, step, start_ids, max_length, **bound)
        steps = assert_cut_from(grown, whole, BOUND)
        if isinstance(search, GreedySearch):  # the loop stops with the longest row
            assert steps == int(np.max(grown.lengths))


def test_growing_beam_search_finds_the_exhaustive_best(small_threshold):
    vocabulary_size, max_length = 3, 6
    logits, _ = random_tables(3, max_length, vocabulary_size)
    end = 2
    hypotheses = enumerate_hypotheses(logits, start_id=0, end_id=end, max_length=max_length)
    # A beam as wide as the number of hypotheses keeps every one: the exhaustive search.
    search = BeamSearch(len(hypotheses), n_best=4)
    result = search(make_step(logits), tf.constant([0]), end, (), max_length=max_length)
    for j, hypothesis in enumerate(hypotheses[:4]):
        length = hypothesis["length"]
        assert int(result.lengths[0, j]) == length
        assert result.ids[0, j, :length].numpy().tolist() == hypothesis["ids"]
        np.testing.assert_allclose(float(result.scores[0, j]), hypothesis["score"], rtol=1e-5)
    assert result.ids.shape[-1] == max(h["length"] for h in hypotheses)  # all ran to the end


def test_a_huge_bound_allocates_only_the_steps_run():
    # Unpatched: the real threshold. Rows end after 3, 40 and 1500 tokens (more than the
    # first 1024-step buffer), under a bound of 10**9 or 2**31 - 1: buffers of that many
    # steps were allocated up front (tens of GB for these three rows).
    ends = tf.constant([3, 40, 1500])

    def step(ids, state, index):
        # The end token (0) becomes the only likely token at step `state - 1`: any other
        # choice costs 30 nats, more than 1500 steps of the likely path (1500 * 4e-13).
        ended = index + 1 >= state
        logits = tf.one_hot(tf.where(ended, 0, 1 + ids % 4), 5) * 30.0
        return logits, state

    expected_lengths = [[3], [40], [1500]]
    for search in (GreedySearch(), BeamSearch(2)):
        for max_length, bound in ((10**9, None), (tf.constant([10**9] * 3), 2**31 - 1)):
            result = search(
                step, tf.constant([1, 2, 3]), 0, ends, max_length=max_length, max_length_bound=bound
            )
            assert result.lengths.numpy().tolist() == expected_lengths
            # The loop ran 1500 steps (greedy), or one more (beam: a second hypothesis, a
            # 30-nat detour, may live one step longer): never the bound's.
            assert result.ids.shape[-1] in (
                (1500,) if isinstance(search, GreedySearch) else (1500, 1501)
            )
            ids = result.ids.numpy()[:, 0]
            expected, token = [], 2
            for _ in range(39):
                token = 1 + token % 4
                expected.append(token)
            assert ids[1, :40].tolist() == expected + [0]
            assert not np.any(ids[0, 3:]) and not np.any(ids[1, 40:])


def test_growing_buffers_in_a_traced_function_with_an_unknown_batch(small_threshold):
    logits, attention = random_tables(5, BOUND, VOCABULARY_SIZE, SOURCE_LENGTH)
    step = make_step(logits, attention)
    search = BeamSearch(3, n_best=2)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32)])
    def decode(start_ids, max_length):
        result = search(step, start_ids, END, (), max_length=max_length, max_length_bound=BOUND)
        assert result.ids.shape.as_list() == [None, 2, None]  # T is known at run time only
        return result

    start_ids, max_length = tf.constant([1, 4]), tf.constant([3, 6])
    grown = decode(start_ids, max_length)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(decoding_strategy, "GROWING_BUFFERS_ABOVE", 1024)
        whole = search(step, start_ids, END, (), max_length=max_length, max_length_bound=BOUND)
    assert_cut_from(grown, whole, BOUND)
    empty = decode(tf.zeros([0], tf.int32), tf.zeros([0], tf.int32))
    assert empty.ids.shape[0] == 0 and empty.lengths.shape == (0, 2)


def test_xla_keeps_whole_static_buffers(small_threshold):
    # XLA needs static shapes: under `jit_compile` the buffers have the bound's length.
    logits, attention = random_tables(6, BOUND, VOCABULARY_SIZE, SOURCE_LENGTH)
    step = make_step(logits, attention)
    start_ids = tf.constant([0, 2])
    for search in (GreedySearch(), BeamSearch(2, n_best=2)):

        def decode(search=search):
            return search(step, start_ids, END, (), max_length=BOUND)

        compiled = tf.function(decode, jit_compile=True)()
        grown = decode()
        assert compiled.ids.shape[-1] == BOUND
        assert_cut_from(grown, compiled, BOUND)


def test_growing_buffers_export_and_run_in_the_serving_session_loader(tmp_path, small_threshold):
    from tests.decoding.test_export import op_types_and_attrs, run_in_session

    logits, attention = random_tables(8, BOUND, VOCABULARY_SIZE, SOURCE_LENGTH)

    class Decoder(tf.Module):
        def __init__(self):
            super().__init__()
            self.logits = tf.Variable(logits)
            self.attention = tf.Variable(attention)
            self.search = BeamSearch(3, coverage_penalty=0.2, n_best=2)

        def step(self, ids, state, index):
            return (
                tf.gather(tf.gather(self.logits, index), ids),
                state,
                tf.gather(tf.gather(self.attention, index), ids),
            )

        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.int32, name="start_ids"),
                tf.TensorSpec([None], tf.int32, name="max_length"),
            ]
        )
        def translate(self, start_ids, max_length):
            return self.search(
                self.step, start_ids, END, (), max_length=max_length, max_length_bound=BOUND
            ).to_dict()

    decoder = Decoder()
    path = str(tmp_path / "decoder")
    tf.saved_model.save(decoder, path, signatures={"serving_default": decoder.translate})
    start_ids, max_length = np.array([0, 2, 4], np.int32), np.array([9, 2, 5], np.int32)
    served, meta_graph = run_in_session(
        path, "serving_default", {"start_ids": start_ids, "max_length": max_length}
    )
    expected = decoder.search(
        make_step(logits, attention),
        tf.constant(start_ids),
        END,
        (),
        max_length=tf.constant(max_length),
        max_length_bound=BOUND,
    ).to_dict()
    assert served["ids"].shape[-1] < BOUND or np.max(served["lengths"]) == BOUND
    for name, value in expected.items():
        np.testing.assert_allclose(served[name], value.numpy(), atol=1e-5, err_msg=name)
    op_types, attrs = op_types_and_attrs(meta_graph.graph_def)
    assert not [op for op in op_types if not hasattr(tf.raw_ops, op)]
    assert not [op for op in op_types if "TensorArray" in op]
    assert "_XlaMustCompile" not in attrs
