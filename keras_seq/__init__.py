"""keras_seq: recurrent sequence models for Keras 3 on TensorFlow.

Cells compute one step, layers run cells over sequences, models wire layers for a task;
decoding knows no model, export only calls the models' public methods.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# `keras_seq.datasets`, `keras_seq.export` and `keras_seq.serving` are imported on demand
# (they read data files or pull in the serving stack).
from keras_seq import (  # noqa: E402
    attention,
    callbacks,
    cells,
    decoding,
    evaluation,
    layers,
    losses,
    metrics,
    models,
    pipelines,
    text,
)
from keras_seq.cells import (  # noqa: E402
    CoupledLSTMCell,
    GRUCell,
    LSTMCell,
    PeepholeLSTMCell,
    RecurrentCell,
    SimpleRNNCell,
)
from keras_seq.layers import (  # noqa: E402
    GRU,
    LSTM,
    AttentionDecoder,
    Bidirectional,
    Bridge,
    CoupledLSTM,
    PeepholeLSTM,
    Recurrent,
    SequencePooling,
    SimpleRNN,
    StackedRNN,
)
from keras_seq.models import (  # noqa: E402
    RNNLanguageModel,
    Seq2Seq,
    SequenceClassifier,
    SequenceTagger,
)

__version__ = "0.1.0"

__all__ = [
    "attention",
    "callbacks",
    "cells",
    "decoding",
    "evaluation",
    "layers",
    "losses",
    "metrics",
    "models",
    "pipelines",
    "text",
    "RecurrentCell",
    "SimpleRNNCell",
    "LSTMCell",
    "PeepholeLSTMCell",
    "CoupledLSTMCell",
    "GRUCell",
    "Recurrent",
    "SimpleRNN",
    "LSTM",
    "PeepholeLSTM",
    "CoupledLSTM",
    "GRU",
    "Bidirectional",
    "StackedRNN",
    "SequencePooling",
    "Bridge",
    "AttentionDecoder",
    "Seq2Seq",
    "RNNLanguageModel",
    "SequenceTagger",
    "SequenceClassifier",
]
