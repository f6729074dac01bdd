"""Round 11 of the export audit: a signature function that returns a tensor, not a dict."""

import os

import pytest
import tensorflow as tf

from keras_seq.export import export
from tests.export.toy_models import TEXTS, ToyTextClassifier


class ReturnsTensor(ToyTextClassifier):
    """``serving_default`` returns the bare probability tensor, or a tuple."""

    def __init__(self, return_kind, **kwargs):
        super().__init__(**kwargs)
        self.return_kind = return_kind

    def probabilities(self, text):
        probabilities = tf.nn.softmax(self(text))
        if self.return_kind == "tuple":
            return probabilities, tf.strings.length(text)
        return probabilities

    def serving_signatures(self):
        return {
            "serving_default": (self.probabilities, [tf.TensorSpec([None], tf.string, name="text")])
        }

    def serving_examples(self):
        return {"serving_default": {"text": ["the cat sat"]}}


@pytest.mark.parametrize("outputs", ["tensor", "tuple"])
def test_a_signature_returning_a_tensor_is_named_with_the_rule(tmp_path, outputs):
    # A Keras habit: return the tensor. export() wrote the archive, then failed with a bare
    # "AttributeError: 'EagerTensor' object has no attribute 'items'", naming neither the
    # signature nor what it must return.
    model = ReturnsTensor(outputs)
    model(tf.constant(TEXTS))
    with pytest.raises(TypeError, match=r"signature 'serving_default' returns \w+, not a dict"):
        export(model, tmp_path, name="toy")
    assert os.listdir(tmp_path) == []  # the temporary directory and toy/ are gone
