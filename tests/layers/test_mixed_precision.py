"""Every layer, cell, attention layer and model under the "mixed_bfloat16" dtype policy.

Under the policy each component must build with float32 variables, compute in bfloat16 (its
``compute_dtype``, and its outputs are bfloat16 as Keras layers' are), take one Adam step on
a finite loss, and agree with the same component in float32 given the same weights.

Tolerance: bfloat16 keeps 8 significant bits (a relative rounding error of 2⁻⁹ ≈ 0.002 per
operation), and a recurrence or a softmax compounds a few of them, so outputs are compared
with ``atol = rtol = 3e-2`` (about 8 bfloat16 ulps at 1). The measured largest differences on
these shapes are 2e-3 … 1.2e-2.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq import attention, cells, layers
from keras_seq.decoding import BeamSearch
from keras_seq.layers import _fused_recurrence
from keras_seq.layers._fused_recurrence import supports_fused_recurrence
from keras_seq.losses import MaskedSequenceLoss
from keras_seq.models import RNNLanguageModel, Seq2Seq, SequenceClassifier, SequenceTagger
from tests.layers.helpers import padding_mask, randomize
from tests.test_case import assert_allclose, dtype_policy

TOLERANCE = 3e-2
B, T, D, U = 2, 5, 3, 4


@pytest.fixture(autouse=True)
def _restore_global_policy():
    previous = keras.mixed_precision.dtype_policy()
    yield
    keras.mixed_precision.set_global_policy(previous)


RNG = np.random.default_rng(0)
SEQUENCES = RNG.normal(size=(B, T, D)).astype("float32")
MASK = np.array([[True] * T, [True, True, True, False, False]])
QUERY = RNG.normal(size=(B, 4, 6)).astype("float32")
VALUE = RNG.normal(size=(B, T, 6)).astype("float32")
CELLS = [
    cells.SimpleRNNCell,
    cells.LSTMCell,
    cells.PeepholeLSTMCell,
    cells.CoupledLSTMCell,
    cells.GRUCell,
]

# name: (builder, positional inputs, call keyword arguments)
LAYERS = {
    "SimpleRNN": (lambda: layers.SimpleRNN(U, return_sequences=True), (SEQUENCES,), {}),
    "LSTM": (lambda: layers.LSTM(U, return_sequences=True), (SEQUENCES,), {}),
    "LSTM_masked_state": (
        lambda: layers.LSTM(U, return_state=True),
        (SEQUENCES,),
        {"mask": MASK},
    ),
    "PeepholeLSTM": (lambda: layers.PeepholeLSTM(U, return_sequences=True), (SEQUENCES,), {}),
    "CoupledLSTM": (
        lambda: layers.CoupledLSTM(U, return_sequences=True),
        (SEQUENCES,),
        {"mask": MASK},
    ),
    "GRU": (lambda: layers.GRU(U, return_sequences=True), (SEQUENCES,), {"mask": MASK}),
    "GRU_reset_before": (
        lambda: layers.GRU(U, reset_after=False, go_backwards=True),
        (SEQUENCES,),
        {},
    ),
    "LSTM_dropout": (
        lambda: layers.LSTM(U, return_sequences=True, dropout=0.2, recurrent_dropout=0.2),
        (SEQUENCES,),
        {},
    ),
    "Bidirectional": (
        lambda: layers.Bidirectional(layers.LSTM(U, return_sequences=True)),
        (SEQUENCES,),
        {"mask": MASK},
    ),
    "StackedRNN": (
        lambda: layers.StackedRNN(layers.GRU(U), num_layers=2, bidirectional=True, residual=True),
        (SEQUENCES,),
        {"mask": MASK},
    ),
    "SequencePooling": (lambda: layers.SequencePooling("mean"), (SEQUENCES,), {"mask": MASK}),
    "AttentionDecoder": (
        lambda: layers.AttentionDecoder(layers.LSTM(U), attention.GeneralAttention()),
        (QUERY, VALUE),
        {},
    ),
    "DotAttention": (
        lambda: attention.DotAttention(scaled=True),
        (QUERY, VALUE),
        {"return_attention_scores": True},
    ),
    "GeneralAttention": (
        attention.GeneralAttention,
        (QUERY, VALUE),
        {"return_attention_scores": True},
    ),
    "AdditiveAttention": (
        lambda: attention.AdditiveAttention(units=8),
        (QUERY, VALUE),
        {"return_attention_scores": True},
    ),
    "MultiHeadCrossAttention": (
        lambda: attention.MultiHeadCrossAttention(num_heads=2, key_dim=4),
        (QUERY, VALUE),
        {"return_attention_scores": True},
    ),
}
for _cell in CELLS:
    LAYERS[f"Recurrent({_cell.__name__})"] = (
        lambda cell=_cell: layers.Recurrent(cell(U), return_sequences=True),
        (SEQUENCES,),
        {"mask": MASK},
    )
    # Our cells in Keras' own loop.
    LAYERS[f"keras.layers.RNN({_cell.__name__})"] = (
        lambda cell=_cell: keras.layers.RNN(cell(U), return_sequences=True),
        (SEQUENCES,),
        {},
    )


def _flat(outputs):
    return [o for o in tf.nest.flatten(outputs) if o.dtype != tf.bool]


def _check_dtypes(component, outputs):
    assert component.compute_dtype == "bfloat16"
    assert {v.dtype for v in component.weights} <= {"float32"}
    for output in _flat(outputs):
        assert output.dtype == tf.bfloat16, f"an output is {output.dtype}, not bfloat16"


def _float32_twin_outputs(build, trained, *inputs, **kwargs):
    """Outputs of ``build()`` made under float32 and given ``trained``'s weights."""
    with dtype_policy("float32"):
        reference = build()
        reference(*inputs, **kwargs)
        reference.set_weights(trained.get_weights())
        return reference(*inputs, **kwargs)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_under_mixed_bfloat16(name):
    build, inputs, kwargs = LAYERS[name]
    with dtype_policy("mixed_bfloat16"):
        layer = build()
        outputs = layer(*inputs, **kwargs)
        _check_dtypes(layer, outputs)
        if isinstance(layer, (layers.Recurrent, keras.layers.RNN)):
            assert layer.cell.compute_dtype == "bfloat16"
        if layer.trainable_weights:
            before = [w.numpy().copy() for w in layer.trainable_weights]
            optimizer = keras.optimizers.Adam(1e-2)
            with tf.GradientTape() as tape:
                trained = layer(*inputs, training=True, **kwargs)
                loss = sum(tf.reduce_mean(tf.square(tf.cast(o, "float32"))) for o in _flat(trained))
            grads = tape.gradient(loss, layer.trainable_weights)
            assert np.isfinite(float(loss))
            assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
            optimizer.apply(grads, layer.trainable_weights)
            assert all(w.dtype == "float32" for w in layer.trainable_weights)
            assert all(
                not np.array_equal(b, w.numpy())
                for b, w in zip(before, layer.trainable_weights, strict=True)
            ), "the training step left a weight unchanged"
            outputs = layer(*inputs, **kwargs)
    expected = _float32_twin_outputs(build, layer, *inputs, **kwargs)
    assert all(o.dtype == tf.float32 for o in _flat(expected))
    assert_allclose(
        [tf.cast(o, "float32") for o in _flat(outputs)],
        _flat(expected),
        atol=TOLERANCE,
        rtol=TOLERANCE,
    )


SOURCE = np.array([[5, 6, 7, 8], [9, 4, 0, 0]], "int32")
TARGET_IN = np.array([[1, 4, 5, 6], [1, 7, 8, 0]], "int32")
TARGET_OUT = np.array([[4, 5, 6, 2], [7, 8, 2, 0]], "int32")
MODELS = {
    "Seq2Seq_luong": (
        lambda: Seq2Seq(12, 14, embedding_dim=6, units=8),
        (SOURCE, TARGET_IN),
        TARGET_OUT,
    ),
    "Seq2Seq_bahdanau_gru_multi_head": (
        lambda: Seq2Seq(
            12, 14, embedding_dim=6, units=8, cell="gru", attention="multi_head", decoder_layers=2
        ),
        (SOURCE, TARGET_IN),
        TARGET_OUT,
    ),
    "SequenceTagger": (
        lambda: SequenceTagger(["A", "B", "C"], vocabulary_size=12, units=8),
        SOURCE,
        np.array([[1, 2, 3, 1], [2, 1, 0, 0]], "int32"),
    ),
    "RNNLanguageModel": (
        lambda: RNNLanguageModel(12, embedding_dim=6, units=8, tie_weights=True),
        TARGET_IN,
        TARGET_OUT,
    ),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_under_mixed_bfloat16(name):
    build, inputs, targets = MODELS[name]
    with dtype_policy("mixed_bfloat16"):
        model = build()
        _check_dtypes(model, model(inputs))
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=MaskedSequenceLoss())
        before = [w.numpy().copy() for w in model.trainable_weights]
        loss = model.train_on_batch(inputs, targets)
        assert np.isfinite(loss)
        assert all(w.dtype == "float32" for w in model.trainable_weights)
        assert any(
            not np.array_equal(b, w.numpy())
            for b, w in zip(before, model.trainable_weights, strict=True)
        )
        outputs = model(inputs)
    expected = _float32_twin_outputs(build, model, inputs)
    assert expected.dtype == tf.float32
    assert_allclose(tf.cast(outputs, "float32"), expected, atol=TOLERANCE, rtol=TOLERANCE)


def test_sequence_classifier_under_mixed_bfloat16():
    build = lambda: SequenceClassifier(["a", "b"], vocabulary_size=12, units=8)  # noqa: E731
    with dtype_policy("mixed_bfloat16"):
        model = build()
        _check_dtypes(model, model(SOURCE))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        assert np.isfinite(model.train_on_batch(SOURCE, np.array([0, 1])))
        outputs = model(SOURCE)
    expected = _float32_twin_outputs(build, model, SOURCE)
    assert_allclose(tf.cast(outputs, "float32"), expected, atol=TOLERANCE, rtol=TOLERANCE)


def test_seq2seq_decodes_under_mixed_bfloat16():
    """Beam search over bfloat16 logits: float32 scores, close to the float32 model's (the best
    score is a maximum over paths, so it moves continuously with the logits)."""
    with dtype_policy("mixed_bfloat16"):
        model = Seq2Seq(12, 14, embedding_dim=6, units=8)
        model((SOURCE, TARGET_IN))
        for variable in model.trainable_weights:
            variable.assign(RNG.normal(scale=0.5, size=variable.shape).astype("float32"))
        result = model.decode(SOURCE, BeamSearch(3), max_length_bound=6)
        assert result.scores.dtype == tf.float32
        assert np.isfinite(result.scores.numpy()).all()
    with dtype_policy("float32"):
        reference = Seq2Seq(12, 14, embedding_dim=6, units=8)
        reference((SOURCE, TARGET_IN))
        reference.set_weights(model.get_weights())
        expected = reference.decode(SOURCE, BeamSearch(3), max_length_bound=6)
    assert_allclose(result.scores, expected.scores, atol=0.1, rtol=TOLERANCE)


def _loss_and_grads(layer, cell, x, mask):
    """Gradients of a fixed weighting of the float32 outputs, on ``cell``'s weights."""
    with tf.GradientTape() as tape:
        outputs = layer(x, mask=mask, training=True)
        weights = tf.sin(tf.range(outputs.shape[-1], dtype="float32"))
        loss = tf.reduce_sum(tf.cast(outputs, "float32") * weights)
    return outputs, tape.gradient(loss, cell.trainable_weights)


def _relative_error(value, exact):
    return float(tf.norm(value - exact) / tf.norm(exact))


@pytest.mark.parametrize(
    "family, gru_loop",
    [
        (layers.LSTM, None),
        (layers.PeepholeLSTM, None),
        (layers.CoupledLSTM, None),
        (layers.GRU, None),
        (layers.GRU, "feature_major"),
        (layers.GRU, "per_gate"),
        (layers.GRU, "per_gate_reset_before"),
        (layers.SimpleRNN, None),
    ],
    ids=[
        "LSTM",
        "PeepholeLSTM",
        "CoupledLSTM",
        "GRU",
        "GRU_feature_major",
        "GRU_per_gate",
        "GRU_reset_before_per_gate",
        "SimpleRNN",
    ],
)
def test_fused_loop_under_mixed_bfloat16(family, gru_loop, monkeypatch):
    """Under the policy a layer trains through its fused loop in bfloat16: the outputs are
    those of the cell's own bfloat16 steps (Keras' loop running the same cell), and every
    weight gradient is as close to the float32 gradient as that loop's is (the fused loop
    sums a weight gradient over all steps in one matmul; its bfloat16 rounding differs).
    ``GRU_feature_major``: the GRU's feature-major loop (512 units and more) forced;
    ``GRU_per_gate``: its batch-major loop with per-gate products (oneDNN) forced, also with
    ``reset_after=False``."""
    options = {"reset_after": False} if gru_loop == "per_gate_reset_before" else {}
    if gru_loop == "feature_major":
        monkeypatch.setattr(_fused_recurrence, "_gru_feature_major", lambda units: True)
    elif gru_loop in ("per_gate", "per_gate_reset_before"):
        monkeypatch.setattr(_fused_recurrence, "_gru_per_gate", lambda units: True)
    rng = np.random.default_rng(5)
    batch, time = 16, 12
    x = rng.normal(size=(batch, time, 8)).astype("float32")
    mask = tf.constant(padding_mask([time] * 8 + [7] * 8, time))
    with dtype_policy("float32"):
        reference = family(16, return_sequences=True, **options)
        reference(x)
        randomize(reference, rng)
        _, exact = _loss_and_grads(reference, reference.cell, x, mask)
    with dtype_policy("mixed_bfloat16"):
        ours = family(16, return_sequences=True, **options)
        ours(x)
        ours.set_weights(reference.get_weights())
        assert supports_fused_recurrence(ours.cell, True, ours.unroll)
        stepwise = keras.layers.RNN(ours.cell, return_sequences=True)
        fused_outputs, fused = _loss_and_grads(ours, ours.cell, x, mask)
        step_outputs, steps = _loss_and_grads(stepwise, ours.cell, x, mask)
    assert fused_outputs.dtype == tf.bfloat16
    assert_allclose(
        tf.cast(fused_outputs, "float32"), tf.cast(step_outputs, "float32"), atol=TOLERANCE
    )
    for variable, ours_, steps_, exact_ in zip(
        ours.cell.trainable_weights, fused, steps, exact, strict=True
    ):
        assert ours_.dtype == tf.float32
        fused_error = _relative_error(ours_, exact_)
        step_error = _relative_error(steps_, exact_)
        assert fused_error <= 2 * step_error + 2e-3, (variable.path, fused_error, step_error)
