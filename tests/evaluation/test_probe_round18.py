"""Round 18 of the evaluation audit.

* `BleuEvaluation` inside a real `model.fit`: `ModelCheckpoint(monitor="val_bleu",
  mode="max", save_best_only=True)` keeps the weights of the epoch whose dev translations
  sacrebleu scores best, and the logged scores are sacrebleu's.
* `BleuEvaluation` refused a dev set given as NumPy arrays of str (a 1-D array of sources,
  a 2-D array of references), which `corpus_bleu` takes.
* `corpus_bleu` / `corpus_chrf` given sacrebleu's reference streams said only that the
  lengths differ; the message now says what the streams are and how to regroup them.
"""

import keras
import numpy as np
import pytest
import sacrebleu

from keras_seq.evaluation import BleuEvaluation, corpus_bleu, corpus_chrf

SOURCES = ["eins zwei drei vier", "das ist gut so"]
REFERENCES = [["one two three four", "one two three and four"], "that is good so"]
# What `translate` returns after epochs 1, 2, 3 and 4: epoch 3 is the best.
SCRIPT = [
    ["one two", "this is"],
    ["one two three", "that is bad so"],
    ["one two three four", "that is good so"],
    ["one", ""],
]


class ScriptedTranslator(keras.Model):
    """A one-weight model whose `translate` returns the next scripted dev translations."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1, kernel_initializer="ones")
        self.evaluations = 0

    def call(self, inputs):
        return self.dense(inputs)

    def translate(self, sources, beam_size=1, max_length=100):
        assert list(sources) == SOURCES and beam_size == 1 and max_length == 100
        hypotheses = SCRIPT[self.evaluations]
        self.evaluations += 1
        return hypotheses


def test_checkpoint_keeps_the_epoch_sacrebleu_scores_best(tmp_path):
    streams = [[refs[0] if isinstance(refs, list) else refs for refs in REFERENCES]]
    streams.append([refs[1] if isinstance(refs, list) else None for refs in REFERENCES])
    expected = [sacrebleu.corpus_bleu(h, streams).score for h in SCRIPT]
    expected_chrf = [sacrebleu.corpus_chrf(h, streams).score for h in SCRIPT]
    assert int(np.argmax(expected)) == 2

    keras.utils.set_random_seed(0)
    model = ScriptedTranslator()
    model.compile(keras.optimizers.SGD(0.1), "mse")
    weights_by_epoch = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: weights_by_epoch.append(model.get_weights())
    )
    path = str(tmp_path / "best.weights.h5")
    checkpoint = keras.callbacks.ModelCheckpoint(
        path, monitor="val_bleu", mode="max", save_best_only=True, save_weights_only=True
    )
    x = np.array([[1.0], [2.0]], "float32")
    y = np.array([[3.0], [5.0]], "float32")
    history = model.fit(
        x,
        y,
        epochs=4,
        verbose=0,
        callbacks=[BleuEvaluation(SOURCES, REFERENCES), checkpoint, record],
    )
    np.testing.assert_allclose(history.history["val_bleu"], expected, rtol=1e-12)
    np.testing.assert_allclose(history.history["val_chrf"], expected_chrf, rtol=1e-12)
    model.load_weights(path)
    for saved, best in zip(model.get_weights(), weights_by_epoch[2], strict=True):
        np.testing.assert_array_equal(saved, best)
    # The weights did move between epochs, so the comparison picks one epoch.
    assert not np.array_equal(weights_by_epoch[2][0], weights_by_epoch[3][0])


def test_numpy_dev_set_columns_are_lists_as_corpus_bleu_reads_them():
    """A 1-D array of sources and a 2-D array of references (``df[["en1", "en2"]]``) were
    refused ("must be a list"), though `corpus_bleu` takes the same references."""
    references = np.array([["one two three four", "one two three and four"], ["that is", "it is"]])
    sources = np.array(SOURCES)
    callback = BleuEvaluation(sources, references)
    model = ScriptedTranslator()
    model.evaluations = 2
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    streams = [list(column) for column in references.T]
    assert logs["val_bleu"] == pytest.approx(sacrebleu.corpus_bleu(SCRIPT[2], streams).score)
    assert logs["val_chrf"] == pytest.approx(sacrebleu.corpus_chrf(SCRIPT[2], streams).score)
    assert callback.sources == SOURCES
    assert all(type(text) is str for text in callback.sources)
    # One reference per source, as a 1-D array.
    callback = BleuEvaluation(sources, np.array(["one two three four", "that is good so"]))
    model.evaluations = 2
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs["val_bleu"] == pytest.approx(100.0)


def test_sacrebleu_streams_get_a_hint_and_the_regrouped_lists_score_as_sacrebleu():
    """``corpus_bleu(hypotheses, [refs])``, sacrebleu's own call, said only that the lengths
    differ; the message now names the streams and how to regroup them."""
    hypotheses = ["the cat sat on the mat", "a dog barks", "it rains today"]
    streams = [
        ["the cat sat on a mat", "a dog barked", "it is raining today"],
        ["a cat sat on the mat", "the dog barks", "today it rains"],
    ]
    for function in (corpus_bleu, corpus_chrf):
        with pytest.raises(ValueError, match=r"got 3 and 2\. `references` looks like sacrebleu"):
            function(hypotheses, streams)
        with pytest.raises(ValueError, match=r"got 3 and 1\. `references` looks like sacrebleu"):
            function(hypotheses, streams[:1])
    regrouped = [list(refs) for refs in zip(*streams, strict=True)]
    assert (
        corpus_bleu(hypotheses, regrouped).score == sacrebleu.corpus_bleu(hypotheses, streams).score
    )
    assert (
        corpus_chrf(hypotheses, regrouped).score == sacrebleu.corpus_chrf(hypotheses, streams).score
    )
    # Lengths that differ for another reason get no hint.
    with pytest.raises(ValueError, match=r"got 3 and 2\.$"):
        corpus_bleu(hypotheses, ["the cat", "a dog"])
