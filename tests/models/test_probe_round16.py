"""Models probe round 16: a NumPy float ``dropout`` is kept as a Python float, so that every
model's config is JSON (it was kept as NumPy's float32, which `json.dumps` refuses), and the
model rebuilt from that JSON computes what the original does."""

import json

import keras
import numpy as np
import pytest

from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger

IDS = np.array([[4, 5, 6], [7, 8, 0]], "int32")

BUILDERS = {
    "seq2seq": lambda dropout: Seq2Seq(10, 10, embedding_dim=4, units=8, dropout=dropout),
    "language_model": lambda dropout: RNNLanguageModel(
        10, embedding_dim=4, units=8, dropout=dropout
    ),
    "tagger": lambda dropout: SequenceTagger(
        ["N", "V"], vocabulary_size=10, embedding_dim=4, units=8, dropout=dropout
    ),
    "classifier": lambda dropout: SequenceClassifier(
        ["a", "b"], vocabulary_size=10, embedding_dim=4, units=8, dropout=dropout
    ),
}


def _inputs(name):
    return (IDS, np.array([[1, 4, 5], [1, 6, 0]], "int32")) if name == "seq2seq" else IDS


@pytest.mark.parametrize("dropout", [np.float32(0.25), np.float16(0.5)], ids=["float32", "float16"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_dropout_is_a_python_float_in_the_json_config(name, dropout):
    model = BUILDERS[name](dropout)
    config = model.get_config()
    assert type(config["dropout"]) is float
    assert config["dropout"] == float(dropout)
    assert json.loads(json.dumps(config))["dropout"] == float(dropout)


@pytest.mark.parametrize("dropout", [0, 0.25, np.float64(0.25)], ids=["int", "float", "float64"])
def test_python_and_float64_dropouts_keep_their_values(dropout):
    for build in BUILDERS.values():
        config = build(dropout).get_config()
        assert config["dropout"] == dropout
        assert json.loads(json.dumps(config))["dropout"] == dropout


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_the_model_rebuilt_from_its_json_config_computes_the_same(name):
    keras.utils.set_random_seed(3)
    model = BUILDERS[name](np.float32(0.25))
    model.build()
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = type(model).from_config(config)
    rebuilt.build()
    rebuilt.set_weights(model.get_weights())
    assert rebuilt.dropout == 0.25
    np.testing.assert_array_equal(rebuilt(_inputs(name)), model(_inputs(name)))
