"""Config round trips across the package: templates copied inside `load_model`, the loss dtype,
and the classes that had no get_config/from_config test of their own."""

import copy
import os
import tempfile

import keras
import numpy as np
import pytest

from keras_seq import cells, layers, losses, metrics
from keras_seq.attention import DotAttention, MultiHeadCrossAttention
from tests.test_case import assert_allclose, run_serialization_test

rng = np.random.default_rng(0)
X = rng.normal(size=(2, 4, 3)).astype("float32")
X[1, 2:] = 0.0  # padded steps, masked by Masking
MEMORY = rng.normal(size=(2, 5, 4)).astype("float32")


def _save_and_load(model):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        return keras.saving.load_model(path)


def _stack_of_recurrent(bidirectional):
    inputs = keras.Input((None, 3))
    template = layers.Recurrent(cells.GRUCell(4), return_sequences=True)
    stack = layers.StackedRNN(template, num_layers=2, bidirectional=bidirectional, name="stack")
    return keras.Model(inputs, stack(keras.layers.Masking()(inputs))), X


def _decoder_of_recurrent():
    inputs, memory = keras.Input((None, 3)), keras.Input((None, 4))
    template = layers.Recurrent(keras.layers.GRUCell(4))
    decoder = layers.AttentionDecoder(template, DotAttention(), num_layers=2, name="stack")
    outputs, _ = decoder(inputs, memory)
    return keras.Model([inputs, memory], outputs), [X, MEMORY]


def _levels(layer):
    levels = layer.rnn.levels if isinstance(layer, layers.AttentionDecoder) else layer.levels
    if isinstance(levels[0], layers.Bidirectional):
        return [d for level in levels for d in (level.forward_layer, level.backward_layer)]
    return levels


@pytest.mark.parametrize(
    "make",
    [
        lambda: _stack_of_recurrent(False),
        lambda: _stack_of_recurrent(True),
        _decoder_of_recurrent,
    ],
    ids=["stacked", "stacked_bidirectional", "attention_decoder"],
)
def test_copies_of_a_recurrent_template_keep_their_own_cells_after_loading(make):
    # Before: inside `load_model` every level of a `Recurrent(cell)` template got the same
    # deserialized cell (Keras' shared-object ids), so the reloaded stack ran one level's
    # weights at every level (or failed on the wider input of a bidirectional stack).
    model, data = make()
    expected = model(data)
    restored = _save_and_load(model)
    cells_by_level = [level.cell for level in _levels(restored.get_layer("stack"))]
    assert len({id(cell) for cell in cells_by_level}) == len(cells_by_level)
    assert_allclose(restored(data), expected, atol=1e-6, rtol=0)


def _with_template(layer):
    inputs = keras.Input((None, 3))
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.StackedRNN(layers.LSTM(3), num_layers=2, bidirectional=True),
        lambda: layers.Bidirectional(
            layers.GRU(3), backward_layer=layers.GRU(2, go_backwards=True)
        ),
    ],
    ids=["stacked_rnn", "bidirectional"],
)
def test_template_config_is_the_same_after_loading(make):
    # Before: serializing the template's objects again while loading added Keras'
    # `shared_object_id` entries to the stored template config.
    model = _with_template(make())
    restored = _save_and_load(model)
    assert restored.layers[-1].get_config()["layer"] == model.layers[-1].get_config()["layer"]


def test_attention_decoder_template_config_is_the_same_after_loading():
    inputs, memory = keras.Input((None, 3)), keras.Input((None, 4))
    outputs, _ = layers.AttentionDecoder(layers.LSTM(4), DotAttention(), num_layers=2)(
        inputs, memory
    )
    model = keras.Model([inputs, memory], outputs)
    restored = _save_and_load(model)
    assert restored.layers[-1].get_config()["layer"] == model.layers[-1].get_config()["layer"]


def test_masked_sequence_loss_keeps_its_dtype():
    # Before: `dtype` was left out of the config, so a float64 loss came back as float32.
    loss = losses.MaskedSequenceLoss(label_smoothing=0.1, pad_id=2, dtype="float64")
    y_true = np.array([[1, 3, 2], [4, 2, 2]])
    y_pred = rng.normal(size=(2, 3, 5))
    for revived in (
        losses.MaskedSequenceLoss.from_config(loss.get_config()),
        keras.losses.deserialize(keras.losses.serialize(loss)),
    ):
        assert revived.get_config() == loss.get_config()
        assert revived.dtype == "float64"
        value = revived(y_true, y_pred)
        assert keras.backend.standardize_dtype(value.dtype) == "float64"
        assert_allclose(value, loss(y_true, y_pred), atol=0, rtol=0)


# Classes without a round-trip test of their own, built with non-default arguments.
@pytest.mark.parametrize(
    "make",
    [
        lambda: metrics.MaskedAccuracy(pad_id=3, name="accuracy", dtype="float64"),
        lambda: metrics.Perplexity(pad_id=2, from_logits=False, name="ppl", dtype="float64"),
    ],
    ids=["masked_accuracy", "perplexity"],
)
def test_metric_config_round_trip(make):
    metric = make()
    y_true = np.array([[1, 3, 2, 0], [4, 2, 3, 3]])
    y_pred = keras.ops.softmax(rng.normal(size=(2, 4, 5)))
    revived = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert type(revived) is type(metric) and revived.get_config() == metric.get_config()
    for m in (metric, revived):
        m.update_state(y_true, y_pred)
    assert_allclose(revived.result(), metric.result(), atol=0, rtol=0)


def test_multi_head_attention_config_round_trip():
    layer = MultiHeadCrossAttention(
        3,
        2,
        value_dim=5,
        output_dim=6,
        use_bias=False,
        kernel_initializer="ones",
        bias_initializer="ones",
        name="heads",
    )
    query = rng.normal(size=(2, 3, 4)).astype("float32")
    run_serialization_test(layer, query, call_kwargs={"value": MEMORY})


@pytest.mark.parametrize("style", ["luong", "bahdanau"])
def test_attention_decoder_config_round_trip(style):
    decoder = layers.AttentionDecoder(
        layers.LSTM(4, unit_forget_bias=False),
        MultiHeadCrossAttention(2, 3, output_dim=5, bias_initializer="ones"),
        num_layers=2,
        attention_style=style,
        dropout=0.2,
        residual=True,
        name="decoder",
    )
    revived = run_serialization_test(decoder, X, call_kwargs={"memory": MEMORY})
    assert (revived.num_layers, revived.attention_style, revived.residual) == (2, style, True)


def test_recurrent_from_config_leaves_the_callers_config_intact():
    # Before: the second from_config of one config failed with KeyError 'cells' (Keras'
    # StackedRNNCells.from_config pops it from the nested config it is given).
    layer = layers.Recurrent(
        keras.layers.StackedRNNCells([cells.GRUCell(3), cells.LSTMCell(2)]), return_sequences=True
    )
    config = layer.get_config()
    snapshot = copy.deepcopy(config)
    first = layers.Recurrent.from_config(config)
    assert config == snapshot
    second = layers.Recurrent.from_config(config)
    assert first.get_config() == second.get_config() == snapshot
