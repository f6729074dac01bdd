"""`ModelCheckpoint` / `EarlyStopping` with the default `mode="auto"` know which way the
library's metrics improve: they raised "Keras isn't able to automatically determine whether
that metric should be maximized or minimized" after the first epoch for every one of them."""

import keras
import numpy as np
from keras import ops

from keras_seq.losses import MaskedSequenceLoss
from keras_seq.metrics import ClassF1Score, MaskedAccuracy, Perplexity, SpanF1
from keras_seq.models import SequenceClassifier, SequenceTagger

IDS = np.array([[5, 6, 7, 0], [4, 5, 0, 0], [8, 9, 4, 5]], "int32")


def fit_watching(model, metrics, y, monitors):
    model.compile(
        "adam",
        MaskedSequenceLoss() if y.ndim == 2 else "sparse_categorical_crossentropy",
        metrics=metrics,
    )
    stops = [keras.callbacks.EarlyStopping(monitor=f"val_{name}", patience=5) for name in monitors]
    model.fit(IDS, y, validation_data=(IDS, y), epochs=2, verbose=0, callbacks=stops)
    return {name: stop.monitor_op for name, stop in zip(monitors, stops, strict=True)}


def test_sequence_metrics_have_a_direction():
    tags = ["B-X", "I-X", "O"]
    model = SequenceTagger(tags, vocabulary_size=12, embedding_dim=4, units=4)
    y = np.where(IDS > 0, IDS % 3 + 1, 0).astype("int32")
    ops_by_name = fit_watching(
        model,
        [MaskedAccuracy(), Perplexity(), SpanF1(tags)],
        y,
        ["masked_accuracy", "perplexity", "span_f1"],
    )
    assert ops_by_name == {
        "masked_accuracy": ops.greater,
        "perplexity": ops.less,
        "span_f1": ops.greater,
    }


def test_class_f1_has_a_direction():
    model = SequenceClassifier(["a", "b"], vocabulary_size=12, embedding_dim=4, units=4)
    ops_by_name = fit_watching(model, [ClassF1Score(2)], np.array([0, 1, 1]), ["class_f1"])
    assert ops_by_name["class_f1"] is ops.greater
