"""Round 15: the Keras contract (reload and continue training, exhaustive beam checks) and
the length and size arguments of the models."""

import itertools
import json

import keras
import numpy as np
import pytest

from keras_seq.decoding import BeamSearch, GreedySearch
from keras_seq.losses import MaskedSequenceLoss
from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger

V = 6
SOURCE = np.array([[3, 4, 5, 0], [0, 5, 3, 4], [4, 0, 0, 0]], "int32")


def random_translator(seed=5):
    keras.utils.set_random_seed(3)
    model = Seq2Seq(V, V, embedding_dim=8, units=8)
    model.build()
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(size=weight.shape))
    bias = model.output_layer.bias.numpy()
    bias[2] -= 1.0  # a less likely </s>: the best hypotheses have several lengths
    model.output_layer.bias.assign(bias)
    return model


def test_beam_search_finds_the_exhaustive_best_under_a_length_penalty():
    """Every hypothesis of at most 3 tokens over a vocabulary of 6 (4 allowed tokens) scored
    by the model's own teacher-forced log-probability: a beam holding them all returns the
    four best by the GNMT score, with those log-probabilities."""
    model = random_translator()
    length, alpha = 3, 0.6
    hypotheses = [
        list(middle) + [2]
        for n in range(length)
        for middle in itertools.product(range(3, V), repeat=n)
    ] + [list(middle) for middle in itertools.product(range(3, V), repeat=length)]
    target_in = np.zeros((len(hypotheses), length), "int32")
    target_out = np.zeros((len(hypotheses), length), "int32")
    for i, tokens in enumerate(hypotheses):
        target_in[i, : len(tokens)] = [1] + tokens[:-1]
        target_out[i, : len(tokens)] = tokens
    lengths = np.array([len(tokens) for tokens in hypotheses])
    decode = model.compiled_decode(
        beam_size=len(hypotheses), length_penalty=alpha, n_best=4, max_length_bound=length
    )
    for row in range(len(SOURCE)):
        sources = np.repeat(SOURCE[row : row + 1], len(hypotheses), axis=0)
        log_probs = model.sequence_log_probability(sources, target_in, target_out).numpy()
        scores = log_probs / ((5 + lengths) / 6) ** alpha
        best = np.argsort(-scores)[:4]
        result = decode(SOURCE[row : row + 1])
        for rank, index in enumerate(best):
            found = result.ids[0, rank, : int(result.lengths[0, rank])].numpy().tolist()
            assert found == hypotheses[index]
            np.testing.assert_allclose(result.scores[0, rank], scores[index], atol=1e-4)
            np.testing.assert_allclose(result.log_probs[0, rank], log_probs[index], atol=1e-4)
        greedy = model.decode(SOURCE[row : row + 1], GreedySearch(), max_length=length)
        one_beam = model.decode(SOURCE[row : row + 1], BeamSearch(1), max_length=length)
        np.testing.assert_array_equal(greedy.ids, one_beam.ids)
        np.testing.assert_allclose(greedy.log_probs, one_beam.log_probs, atol=1e-5)


def test_a_reloaded_tied_language_model_trains_on_as_the_original(tmp_path):
    """`model.save` / `load_model` restore the optimizer state: the next epoch gives the same
    weights, and the tied embedding stays one variable."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, 10, (8, 5)).astype("int32")
    y = rng.integers(2, 10, (8, 5)).astype("int32")
    x[::2, 3:] = 0
    y[::2, 3:] = 0
    keras.utils.set_random_seed(0)
    model = RNNLanguageModel(10, embedding_dim=8, units=6, tie_weights=True)
    model.compile(optimizer=keras.optimizers.AdamW(0.01), loss=MaskedSequenceLoss(0.1))
    model.fit(x, y, batch_size=3, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "lm.keras")
    reloaded = keras.models.load_model(tmp_path / "lm.keras")
    assert len(reloaded.trainable_variables) == len(model.trainable_variables)
    model.fit(x, y, batch_size=3, epochs=1, verbose=0, shuffle=False)
    reloaded.fit(x, y, batch_size=3, epochs=1, verbose=0, shuffle=False)
    for mine, theirs in zip(model.weights, reloaded.weights, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_seq2seq_decode_names_max_length_when_it_is_out_of_range():
    # An int `max_length` becomes the static bound: 0 was told as "`max_length_bound` must
    # be in [1, 2**31 - 1]", an argument the caller never wrote.
    model = random_translator()
    for value in (0, -3, 2**40, np.int32(0)):
        with pytest.raises(ValueError, match="`max_length` must be an int in"):
            model.decode(SOURCE, GreedySearch(), max_length=value)
        with pytest.raises(ValueError, match="`max_length` must be an int in"):
            model.decode(SOURCE, BeamSearch(2), max_length=value)


def test_seq2seq_takes_a_numpy_integer_max_length_bound():
    # NumPy integers are taken by every other length argument; `max_length_bound` raised
    # "must be an int" in `decode` (with `max_length=None`) and in `compiled_decode`.
    model = random_translator()
    expected = model.decode(SOURCE, BeamSearch(2), max_length_bound=5)
    got = model.decode(SOURCE, BeamSearch(2), max_length_bound=np.int64(5))
    np.testing.assert_array_equal(got.ids, expected.ids)
    expected = model.compiled_decode(beam_size=2, max_length_bound=5)(SOURCE)
    got = model.compiled_decode(beam_size=2, max_length_bound=np.int64(5))(SOURCE)
    np.testing.assert_array_equal(got.ids, expected.ids)
    assert got.ids.shape[-1] == 5


@pytest.mark.parametrize("bound", [0, -1, 2**31])
def test_compiled_decode_checks_its_bound_when_asked_for(bound):
    # The range was only checked when the first call traced the search.
    model = random_translator()
    with pytest.raises(ValueError, match="`max_length_bound` must be in"):
        model.compiled_decode(beam_size=2, max_length_bound=bound)


@pytest.mark.parametrize(
    "build",
    [
        lambda n, **kw: RNNLanguageModel(10, embedding_dim=4, units=4, num_layers=n, **kw),
        lambda n, **kw: SequenceTagger(["A"], vocabulary_size=10, units=4, num_layers=n, **kw),
        lambda n, **kw: SequenceClassifier(
            ["a", "b"], vocabulary_size=10, units=4, num_layers=n, **kw
        ),
    ],
)
def test_numpy_integer_depths_are_kept_as_ints(build):
    # A NumPy `num_layers` was kept in the attribute and the config, which `json.dumps`
    # then refused ("Object of type int64 is not JSON serializable").
    model = build(np.int64(2))
    assert type(model.num_layers) is int and type(model.get_config()["num_layers"]) is int
    json.dumps(model.get_config())
    ids = np.array([[4, 5, 0]], "int32")
    keras.utils.set_random_seed(1)
    expected = build(2)(ids)
    keras.utils.set_random_seed(1)
    np.testing.assert_array_equal(build(np.int64(2))(ids), expected)


def test_numpy_integer_hidden_units_are_taken():
    # `units` takes a NumPy integer; `hidden_units=[np.int64(4)]` was refused as "must be
    # positive ints".
    ids = np.array([[4, 5, 0]], "int32")
    keras.utils.set_random_seed(1)
    expected = SequenceClassifier(["a", "b"], vocabulary_size=10, units=4, hidden_units=[4])
    keras.utils.set_random_seed(1)
    model = SequenceClassifier(
        ["a", "b"], vocabulary_size=10, units=4, hidden_units=(np.int64(4), np.int32(3))
    )
    assert model.get_config()["hidden_units"] == [4, 3]
    assert all(type(size) is int for size in model.get_config()["hidden_units"])
    keras.utils.set_random_seed(1)
    model = SequenceClassifier(["a", "b"], vocabulary_size=10, units=4, hidden_units=[np.int64(4)])
    np.testing.assert_array_equal(model(ids), expected(ids))
    with pytest.raises(ValueError, match="`hidden_units`"):
        SequenceClassifier(["a", "b"], vocabulary_size=10, hidden_units=[np.float64(4.0)])
