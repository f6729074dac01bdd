"""The fused LSTM / peephole LSTM / GRU / SimpleRNN loops (hand-written BPTT) against
autodiff through the cell's step."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq.cells import CoupledLSTMCell, GRUCell, LSTMCell, PeepholeLSTMCell, SimpleRNNCell
from keras_seq.layers import (
    GRU,
    LSTM,
    Bidirectional,
    CoupledLSTM,
    PeepholeLSTM,
    SimpleRNN,
    _fused_recurrence,
)
from keras_seq.layers._fused_recurrence import supports_fused_recurrence
from tests.layers.helpers import padding_mask, randomize
from tests.test_case import assert_allclose

B, T, D, U = 3, 5, 4, 6

CONFIGS = {
    "lstm": (LSTM, {}),
    "lstm_no_bias": (LSTM, {"use_bias": False}),
    "peephole": (PeepholeLSTM, {}),
    "coupled": (CoupledLSTM, {}),
    "gru": (GRU, {}),
    "gru_no_bias": (GRU, {"use_bias": False}),
    "gru_reset_before": (GRU, {"reset_after": False}),
    "simple": (SimpleRNN, {}),
    "simple_no_bias": (SimpleRNN, {"use_bias": False}),
}
MASKS = {
    "none": None,
    "right": padding_mask([5, 3, 1], T, "right"),
    # The last row is fully masked: zero outputs, the initial state passed through.
    "left": padding_mask([5, 2, 0], T, "left"),
}


def _layers(name, dtype, batch=B, time=T, **kwargs):
    """Our layer (fused path) and `keras.layers.RNN` running the same cell step by step."""
    family, extra = CONFIGS[name]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, time, D)).astype(dtype)
    ours = family(U, return_sequences=True, return_state=True, dtype=dtype, **extra, **kwargs)
    ours(x)
    randomize(ours, rng)
    # Keras' loop calls `cell.call` at every step and differentiates it by autodiff.
    reference = keras.layers.RNN(
        ours.cell, return_sequences=True, return_state=True, dtype=dtype, **kwargs
    )
    initial_state = [rng.normal(size=(batch, U)).astype(dtype) for _ in ours.state_size]
    return ours, reference, x, initial_state


def _masked_layer(family, seed):
    """``(layer, x, mask)``: a float32 ``family`` layer with random weights, a batch and the
    right-padding mask."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = family(U, return_sequences=True)
    layer(x)
    randomize(layer, rng)
    return layer, x, MASKS["right"]


def _module(layer, **functions):
    """A `tf.Module` holding ``layer`` and each function as a `tf.function` of ``(x, mask)``,
    ready for `tf.saved_model.save`."""
    module = tf.Module()
    module.layer = layer
    signature = [tf.TensorSpec((None, None, D), tf.float32), tf.TensorSpec((None, None), tf.bool)]
    for name, function in functions.items():
        setattr(module, name, tf.function(function, input_signature=signature))
    return module


def _outputs_and_grads(layer, x, initial_state, mask=None, training=False):
    x = tf.convert_to_tensor(x)
    initial_state = [tf.convert_to_tensor(s) for s in initial_state]
    with tf.GradientTape() as tape:
        tape.watch([x, *initial_state])
        outputs = layer(x, initial_state=initial_state, mask=mask, training=training)
        # Every output element and every final state gets its own weight in the loss.
        loss = sum(tf.reduce_sum(tf.sin(o * (i + 1.0))) for i, o in enumerate(outputs))
    grads = tape.gradient(loss, [x, *initial_state, *layer.cell.trainable_weights])
    return outputs, grads


@pytest.mark.parametrize("mask_name", sorted(MASKS))
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fused_path_equals_autodiff_of_the_cell_in_float64(name, mask_name):
    """In float64 the hand-written backward equals autodiff up to rounding (1e-12)."""
    ours, reference, x, initial_state = _layers(name, "float64")
    assert supports_fused_recurrence(ours.cell, False, ours.unroll)
    mask = MASKS[mask_name]
    our_outputs, our_grads = _outputs_and_grads(ours, x, initial_state, mask)
    ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask)
    assert_allclose(our_outputs, ref_outputs, atol=1e-12, rtol=1e-12)
    assert_allclose(our_grads, ref_grads, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("segments", [1, 3])
@pytest.mark.parametrize("time", [2, 3, 4, 7])
@pytest.mark.parametrize("name", ["lstm", "peephole", "coupled"])
def test_backward_segments_at_any_length(name, time, segments, monkeypatch):
    """The LSTMs' backward loop in segments of time (`_backward_in_segments`; with 3: empty
    ones below 3 steps, uneven ones otherwise), traced with the length unknown: values and
    gradients are autodiff's at every length."""
    monkeypatch.setattr(_fused_recurrence, "_BACKWARD_SEGMENTS", segments)
    ours, reference, x, initial_state = _layers(name, "float64", time=time)
    mask = padding_mask([time, time - 1, 1], time)
    spec = tf.TensorSpec([None, None, D], tf.float64)
    fused = tf.function(
        lambda x, s, m: _outputs_and_grads(ours, x, s, m),
        input_signature=[
            spec,
            [tf.TensorSpec([None, U], tf.float64)] * len(initial_state),
            tf.TensorSpec([None, None], tf.bool),
        ],
    )
    our_outputs, our_grads = fused(x, initial_state, mask)
    ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask)
    assert_allclose(our_outputs, ref_outputs, atol=1e-12, rtol=1e-12)
    assert_allclose(our_grads, ref_grads, atol=1e-12, rtol=1e-10)


# The LSTMs' layouts: (per-gate recurrent products, dz_t kept in a list per gate block).
LAYOUTS = {
    "per_gate": (True, True),
    "one_product": (False, False),  # oneDNN above 256 units
    "one_product_gate_lists": (False, True),  # Eigen from 129 to 256 units
}


def _set_layout(monkeypatch, layout):
    per_gate, block_lists = LAYOUTS[layout]
    monkeypatch.setattr(_fused_recurrence, "_per_gate_products", lambda units: per_gate)
    monkeypatch.setattr(_fused_recurrence, "_dz_in_gate_blocks", lambda units: block_lists)
    return per_gate, block_lists


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("mask_name", ["none", "left"])
@pytest.mark.parametrize("name", ["lstm", "peephole", "coupled"])
def test_recurrent_products_per_gate_or_whole(name, mask_name, layout, monkeypatch):
    """The feature-major loops make ``Uᵀ h_{t-1}ᵀ`` and ``U dz_tᵀ`` gate block by gate block
    or as one product, and keep ``dz_t`` in a list per gate block or in one list
    (`_per_gate_products`, `_dz_in_gate_blocks`): values and gradients are autodiff's in
    every layout."""
    per_gate, block_lists = _set_layout(monkeypatch, layout)
    ours, reference, x, initial_state = _layers(name, "float64")
    cell = ours.cell
    blocks = 3 if name == "coupled" else 4
    layout = _fused_recurrence._FeatureMajor(
        tf.constant(x), cell.kernel, cell.bias, cell.recurrent_kernel, None, blocks
    )
    assert layout.per_gate is per_gate and layout.block_lists is block_lists
    # The projection's blocks are z_tᵀ's row blocks in every layout.
    h = tf.constant(np.random.default_rng(1).normal(size=(U, B)))
    expected = tf.transpose(
        x[:, 2] @ cell.kernel.numpy() + cell.bias.numpy() + h.numpy().T @ cell.recurrent_kernel
    )
    assert_allclose(tf.concat(layout.projection(2, h), axis=0), expected, atol=1e-12)
    mask = MASKS[mask_name]
    our_outputs, our_grads = _outputs_and_grads(ours, x, initial_state, mask)
    ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask)
    assert_allclose(our_outputs, ref_outputs, atol=1e-12, rtol=1e-12)
    assert_allclose(our_grads, ref_grads, atol=1e-12, rtol=1e-10)


def _outputs_grads_and_products(layer, x, initial_state, mask, monkeypatch):
    """`_outputs_and_grads` of ``layer``, and the operand shapes ``(a, b)`` of every plain
    ``tf.matmul(a, b)`` the fused loops ran meanwhile (no transposes or other options)."""
    products = []
    matmul = tf.matmul

    def counted(a, b, *args, **kwargs):
        if not (args or kwargs):
            products.append((tuple(a.shape), tuple(b.shape)))
        return matmul(a, b, *args, **kwargs)

    monkeypatch.setattr(_fused_recurrence.tf, "matmul", counted)
    try:
        outputs, grads = _outputs_and_grads(layer, x, initial_state, mask)
    finally:
        monkeypatch.setattr(_fused_recurrence.tf, "matmul", matmul)
    return outputs, grads, products


@pytest.mark.parametrize("mask_name", sorted(MASKS))
@pytest.mark.parametrize("name", ["gru", "gru_no_bias"])
def test_feature_major_gru_equals_autodiff(name, mask_name, monkeypatch):
    """The GRU (reset after) in the feature-major loop (`_gru_feature_major`, with Eigen from
    512 units; forced here): outputs (with and without a gradient tape) and gradients are
    autodiff's through the cell, with every mask; it is the loop that runs, and its steps
    make ``Wᵀ x_tᵀ``, ``Uᵀ h_{t-1}ᵀ`` and ``U dzᵀ`` and no other product of B columns (the
    backward reads ``h_{t-1} U_h + b_h`` from the forward's list, it does not make it again)."""
    monkeypatch.setattr(_fused_recurrence, "_gru_feature_major", lambda units: True)
    calls = []
    loop = _fused_recurrence._gru_reset_after_feature_major

    def counted(*args):
        calls.append(args[0].shape)
        return loop(*args)

    monkeypatch.setattr(_fused_recurrence, "_gru_reset_after_feature_major", counted)
    ours, reference, x, initial_state = _layers(name, "float64")
    mask = MASKS[mask_name]
    our_outputs, our_grads, products = _outputs_grads_and_products(
        ours, x, initial_state, mask, monkeypatch
    )
    ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask)
    assert calls, "the feature-major loop did not run"
    # A step's [·, ·] × [·, B] products.
    step_products = {(a, b) for a, b in products if b[-1] == B}
    assert step_products == {((3 * U, D), (D, B)), ((3 * U, U), (U, B)), ((U, 3 * U), (3 * U, B))}
    assert_allclose(our_outputs, ref_outputs, atol=1e-12, rtol=1e-12)
    assert_allclose(our_grads, ref_grads, atol=1e-12, rtol=1e-10)
    forward_only = ours(x, initial_state=initial_state, mask=mask)  # no tape: no custom grad
    assert_allclose(forward_only, ref_outputs, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("per_gate", [True, False], ids=["per_gate", "whole"])
@pytest.mark.parametrize("mask_name", ["none", "left"])
@pytest.mark.parametrize("name", ["gru", "gru_no_bias", "gru_reset_before"])
def test_batch_major_gru_products_per_gate_or_whole(name, mask_name, per_gate, monkeypatch):
    """The batch-major GRU makes ``h_{t-1} U`` and ``dz_t Uᵀ`` gate block by gate block or as
    one product (`_gru_per_gate`; reset before: the ``z`` and ``r`` blocks, its candidate's
    product is per block either way): outputs and gradients are autodiff's either way, and
    it is those products that run."""
    monkeypatch.setattr(_fused_recurrence, "_gru_feature_major", lambda units: False)
    monkeypatch.setattr(_fused_recurrence, "_gru_per_gate", lambda units: per_gate)
    ours, reference, x, initial_state = _layers(name, "float64")
    mask = MASKS[mask_name]
    our_outputs, our_grads, products = _outputs_grads_and_products(
        ours, x, initial_state, mask, monkeypatch
    )
    products = [b for a, b in products if a[0] == B]  # a step's [B, ·] × [·, ·]
    # The steps' recurrent products, forward and backward: U's [u, u] blocks (and Uᵀ's), or
    # all of U [u, 3u] and Uᵀ [3u, u] (reset before: U_zr [u, 2u] and its transpose, and the
    # candidate's [u, u]); no other product of B rows has these shapes.
    shapes = {(U, U), (U, 2 * U), (2 * U, U), (U, 3 * U), (3 * U, U)}
    recurrent = {p for p in products if p in shapes}
    if per_gate:
        assert recurrent == {(U, U)}
    elif name == "gru_reset_before":
        assert recurrent == {(U, 2 * U), (2 * U, U), (U, U)}
    else:
        assert recurrent == {(U, 3 * U), (3 * U, U)}
    ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask)
    assert_allclose(our_outputs, ref_outputs, atol=1e-12, rtol=1e-12)
    assert_allclose(our_grads, ref_grads, atol=1e-12, rtol=1e-10)


def test_gru_products_by_width_and_matmul_library(monkeypatch):
    """`_gru_per_gate`: with oneDNN per gate up to 256 units, one product above; with Eigen
    one product always; where a GPU is visible one product."""
    widths = [1, 128, 256, 257, 511]
    if tf.config.list_logical_devices("GPU"):
        assert not any(_fused_recurrence._gru_per_gate(u) for u in widths)
        pytest.skip("a GPU keeps one product")
    monkeypatch.setattr(_fused_recurrence, "_onednn_matmuls", lambda: True)
    assert [_fused_recurrence._gru_per_gate(u) for u in widths] == [True, True, True, False, False]
    monkeypatch.setattr(_fused_recurrence, "_onednn_matmuls", lambda: False)
    assert not any(_fused_recurrence._gru_per_gate(u) for u in widths)


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_feature_major_gru_traced_with_unknown_sizes(jit_compile, monkeypatch):
    """The feature-major GRU traced with batch and length unknown (and under XLA), at 1 step
    (no states before the last: the shifted states are just h_0) and at 4."""
    monkeypatch.setattr(_fused_recurrence, "_gru_feature_major", lambda units: True)
    for time in (1, 4):
        ours, reference, x, initial_state = _layers("gru", "float32", time=time)
        mask = padding_mask([time, 1, 0], time, "right")
        signature = [
            tf.TensorSpec([None, None, D], tf.float32),
            [tf.TensorSpec([None, U], tf.float32)],
            tf.TensorSpec([None, None], tf.bool),
        ]
        fused = _traced(ours, signature, training=True, jit_compile=jit_compile)
        our_outputs, our_grads = fused(x, initial_state, mask)
        ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask, True)
        assert_allclose(our_outputs, ref_outputs, atol=1e-5)
        assert_allclose(our_grads, ref_grads, atol=1e-5)


def test_gru_layout_by_width_and_matmul_library(monkeypatch):
    """`_gru_feature_major`: on the CPU with Eigen from 512 units; batch-major with oneDNN
    (measured faster on an AMD EPYC / AVX-512 machine) and where a GPU is visible; with Eigen a
    GRU of 512 units runs the feature-major loop, one of 511 the batch-major one."""
    widths = [1, 256, 511, 512, 1024]
    if tf.config.list_logical_devices("GPU"):
        assert not any(_fused_recurrence._gru_feature_major(u) for u in widths)
        pytest.skip("a GPU keeps the batch-major loop")
    monkeypatch.setattr(_fused_recurrence, "_onednn_matmuls", lambda: True)
    assert not any(_fused_recurrence._gru_feature_major(u) for u in widths)
    monkeypatch.setattr(_fused_recurrence, "_onednn_matmuls", lambda: False)
    assert [_fused_recurrence._gru_feature_major(u) for u in widths] == [
        False, False, False, True, True
    ]  # fmt: skip
    ran = []
    for name in ("_gru_reset_after", "_gru_reset_after_feature_major"):
        loop = getattr(_fused_recurrence, name)
        monkeypatch.setattr(
            _fused_recurrence, name, lambda *a, loop=loop, name=name: ran.append(name) or loop(*a)
        )
    x = tf.zeros([2, 3, 4])
    for units in (511, 512):
        GRU(units)(x)
    assert ran == ["_gru_reset_after", "_gru_reset_after_feature_major"]


def _waits_for(op):
    """Every op that ``op`` waits for, through its inputs and control inputs."""
    seen, todo = set(), [op]
    while todo:
        current = todo.pop()
        for parent in [t.op for t in current.inputs] + list(current.control_inputs):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("name", ["lstm", "peephole", "coupled"])
def test_gate_blocks_of_dz_stacked_one_at_a_time(name, layout, monkeypatch):
    """With block lists (per-gate products, or one product under Eigen) the LSTMs' backward
    loop keeps each gate block of ``dz_t`` in a list of its own, and after the loop stacks
    the lists one at a time: each stack waits for the previous block's products (the peak
    holds one stacked block, not all of them). Otherwise it keeps one list of ``dz_tᵀ``,
    stacked once."""
    _, block_lists = _set_layout(monkeypatch, layout)
    ours, _, x, initial_state = _layers(name, "float32")
    mask = MASKS["right"]
    signature = [
        tf.TensorSpec([B, T, D], tf.float32),
        [tf.TensorSpec([B, U], tf.float32)] * len(initial_state),
        tf.TensorSpec([B, T], tf.bool),
    ]
    graph = _traced(ours, signature).get_concrete_function(x, initial_state, mask).graph
    stacks = {}  # stacks of the backward loop's lists, by the loop
    for op in graph.get_operations():
        if op.type == "TensorListStack" and "TensorArray" not in op.name:  # not the outputs
            stacks.setdefault(op.inputs[0].op, []).append(op)
    ((loop, backward),) = stacks.items()
    assert loop.type in ("While", "StatelessWhile")
    blocks = 3 if name == "coupled" else 4
    assert len(backward) == (blocks if block_lists else 1)
    # Block j's stack waits for block j - 1's stack (through its products), never the reverse.
    waited = sorted(sum(other in _waits_for(op) for other in backward) for op in backward)
    assert waited == list(range(len(backward)))
    width = U if block_lists else blocks * U
    assert all(width in op.outputs[0].shape for op in backward)


def _traced(layer, signature, training=False, jit_compile=None):
    """`_outputs_and_grads` of ``layer`` as a `tf.function` of ``signature``."""
    return tf.function(
        lambda x, s, m: _outputs_and_grads(layer, x, s, m, training=training),
        input_signature=signature,
        jit_compile=jit_compile,
    )


def _loops(function, *args):
    """How many while loops the forward graph of ``function`` traced on ``args`` holds."""
    graph = function.get_concrete_function(*args).graph
    return sum(op.type in ("While", "StatelessWhile") for op in graph.get_operations())


@pytest.mark.parametrize("batch", [5, None], ids=["static_odd_batch", "batch_known_when_run"])
@pytest.mark.parametrize("name", ["lstm", "peephole", "coupled", "gru", "gru_reset_before"])
def test_batch_split_in_two_loops(name, batch, monkeypatch):
    """A batch of `_SPLIT_BATCH_MIN_ROWS` rows or more runs as two loops over its halves
    (lowered here to 4 rows, the LSTMs' per-gate products off and the GRU's halves on, as
    with oneDNN, so that they split):
    values and gradients are autodiff's, with a static odd batch ([3, 2]) and with a batch
    size known only when the graph runs (5 rows: [3, 2]; 3 rows: [3, 0], an empty loop)."""
    monkeypatch.setattr(_fused_recurrence, "_SPLIT_BATCH_MIN_ROWS", 4)
    monkeypatch.setattr(_fused_recurrence, "_per_gate_products", lambda units: False)
    monkeypatch.setattr(_fused_recurrence, "_gru_in_halves", lambda units: True)
    for rows, lengths in ((5, [5, 3, 1, 0, 4]), (3, [5, 2, 0])):
        ours, reference, x, initial_state = _layers(name, "float64", batch=rows)
        mask = padding_mask(lengths, T, "left")
        signature = [
            tf.TensorSpec([batch, T, D], tf.float64),
            [tf.TensorSpec([batch, U], tf.float64)] * len(initial_state),
            tf.TensorSpec([batch, T], tf.bool),
        ]
        if batch is not None and rows == 3:
            continue  # a static batch of 3 rows: below the threshold, one loop
        ours._split_batch = False
        one = _loops(_traced(ours, signature), x, initial_state, mask)
        ours._split_batch = True
        fused = _traced(ours, signature)
        # Twice the while loops (forward and backward) of the layer run as one loop.
        assert _loops(fused, x, initial_state, mask) == 2 * one
        our_outputs, our_grads = fused(x, initial_state, mask)
        ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask)
        assert_allclose(our_outputs, ref_outputs, atol=1e-12, rtol=1e-12)
        assert_allclose(our_grads, ref_grads, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_batch_split_under_xla(name, monkeypatch):
    """Two loops over the batch's halves in a train step compiled with XLA, the batch size
    unknown when traced (the halves' sizes are tensors, constants once XLA compiles for a
    shape): 5 rows ([3, 2]) and 3 rows ([3, 0]) give autodiff's values and gradients."""
    monkeypatch.setattr(_fused_recurrence, "_SPLIT_BATCH_MIN_ROWS", 4)
    monkeypatch.setattr(_fused_recurrence, "_per_gate_products", lambda units: False)
    monkeypatch.setattr(_fused_recurrence, "_gru_in_halves", lambda units: True)
    for rows, lengths in ((5, [5, 3, 1, 0, 4]), (3, [5, 2, 0])):
        ours, reference, x, initial_state = _layers(name, "float32", batch=rows)
        mask = padding_mask(lengths, T, "left")
        signature = [
            tf.TensorSpec([None, T, D], tf.float32),
            [tf.TensorSpec([None, U], tf.float32)] * len(initial_state),
            tf.TensorSpec([None, T], tf.bool),
        ]
        compiled = _traced(ours, signature, training=True, jit_compile=True)
        our_outputs, our_grads = compiled(x, initial_state, mask)
        ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask, True)
        assert_allclose(our_outputs, ref_outputs, atol=1e-5)
        assert_allclose(our_grads, ref_grads, atol=1e-5)


def test_when_the_batch_is_split(monkeypatch):
    """`_batch_halves`: two loops from 64 rows up ([ceil, floor]), one below; one for the
    LSTMs that have per-gate products (with oneDNN up to 256 units; with Eigen except from
    129 to 256), the GRU above 512 units or with Eigen and the simple RNN; `Bidirectional`
    turns it off."""
    halves = _fused_recurrence._batch_halves
    monkeypatch.setattr(_fused_recurrence, "_onednn_matmuls", lambda: True)
    x = tf.zeros([64, 2, 3])
    assert halves(GRUCell(8), x) == [32, 32]
    assert halves(GRUCell(8), tf.zeros([65, 2, 3])) == [33, 32]
    assert halves(GRUCell(8), tf.zeros([63, 2, 3])) is None
    assert halves(GRUCell(512), x) == [32, 32]
    assert halves(GRUCell(513), x) is None
    assert halves(SimpleRNNCell(8), x) is None
    assert halves(LSTMCell(256), x) is None
    assert halves(PeepholeLSTMCell(256), x) is None
    assert halves(LSTMCell(257), x) == [32, 32]
    monkeypatch.setattr(_fused_recurrence, "_onednn_matmuls", lambda: False)
    assert halves(LSTMCell(128), x) is None
    assert halves(LSTMCell(129), x) == [32, 32]
    assert halves(CoupledLSTMCell(256), x) == [32, 32]
    assert halves(LSTMCell(256), tf.zeros([63, 2, 3])) is None
    assert halves(LSTMCell(257), x) is None
    assert halves(GRUCell(8), x) is None
    assert halves(GRUCell(256), x) is None
    layer = Bidirectional(GRU(4, return_sequences=True))
    assert GRU(4)._split_batch
    assert not layer.forward_layer._split_batch and not layer.backward_layer._split_batch


@pytest.mark.parametrize("onednn", [True, False], ids=["onednn", "eigen"])
def test_layout_by_width_and_matmul_library(onednn, monkeypatch):
    """`_per_gate_products` / `_dz_in_gate_blocks` by width: with oneDNN per gate (and a
    list per gate block) up to 256 units, one product (and one list) above; with Eigen one
    product from 129 to 256 units, per gate elsewhere, a list per gate block always."""
    monkeypatch.setattr(_fused_recurrence, "_onednn_matmuls", lambda: onednn)
    widths = [1, 96, 128, 129, 200, 256, 257, 512, 1024]
    per_gate = [_fused_recurrence._per_gate_products(u) for u in widths]
    block_lists = [_fused_recurrence._dz_in_gate_blocks(u) for u in widths]
    if onednn:
        assert per_gate == [u <= 256 for u in widths]
        assert block_lists == per_gate
    else:
        assert per_gate == [True, True, True, False, False, False, True, True, True]
        assert all(block_lists)


@pytest.mark.parametrize("setting", ["0", "1"])
def test_matmul_library_read_from_tensorflow(setting):
    """`_onednn_matmuls` reads TensorFlow's own switch: ``TF_ENABLE_ONEDNN_OPTS`` set to 0 or
    1 before TensorFlow starts (in a fresh process) gives False or True."""
    code = (
        "from keras_seq.layers import _fused_recurrence as f; print('onednn', f._onednn_matmuls())"
    )
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("TensorFlow's oneDNN switch is read on x86-64")
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=setting, CUDA_VISIBLE_DEVICES="-1")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == f"onednn {setting == '1'}"


@pytest.mark.parametrize(
    "options",
    [{"go_backwards": True}, {"zero_output_for_mask": True}],
    ids=["go_backwards", "zero_output_for_mask"],
)
@pytest.mark.parametrize("name", ["lstm", "peephole", "gru", "simple"])
def test_fused_path_with_layer_options_in_float64(name, options):
    ours, reference, x, initial_state = _layers(name, "float64", **options)
    mask = MASKS["left"]
    our_outputs, our_grads = _outputs_and_grads(ours, x, initial_state, mask)
    ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask)
    assert_allclose(our_outputs, ref_outputs, atol=1e-12, rtol=1e-12)
    assert_allclose(our_grads, ref_grads, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_gradients_through_a_function_traced_without_a_tape(name):
    """A `tf.function` traced with no tape recording, then called under a tape: its fused
    loop runs forward only (no custom gradient), and TensorFlow differentiates that loop
    itself. The gradients are still those of the cell."""
    ours, reference, x, initial_state = _layers(name, "float64")
    mask = MASKS["right"]
    forward = tf.function(lambda x, s, m: ours(x, initial_state=s, mask=m))
    x_t = tf.constant(x)
    states = [tf.constant(s) for s in initial_state]
    forward(x_t, states, mask)  # traced here, with no tape
    with tf.GradientTape() as tape:
        tape.watch([x_t, *states])
        outputs = forward(x_t, states, mask)
        loss = sum(tf.reduce_sum(tf.sin(o * (i + 1.0))) for i, o in enumerate(outputs))
    grads = tape.gradient(loss, [x_t, *states, *ours.cell.trainable_weights])
    ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask)
    assert_allclose(outputs, ref_outputs, atol=1e-12, rtol=1e-12)
    assert_allclose(grads, ref_grads, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("family", [LSTM, GRU], ids=lambda c: c.__name__)
def test_saved_model_of_a_function_that_records_gradients(family, tmp_path):
    """A saved train step (a tape inside the function) needs
    ``experimental_custom_gradients=False`` (the fused backward keeps TensorLists, which a
    saved custom gradient cannot capture); it saves, and the reloaded step computes the same
    loss and gradients."""
    layer, x, mask = _masked_layer(family, seed=4)

    def loss_and_gradients(x, mask):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.sin(layer(x, mask=mask, training=True)))
        return loss, tape.gradient(loss, layer.trainable_weights)

    module = _module(layer, step=loss_and_gradients)
    options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
    tf.saved_model.save(module, str(tmp_path), options=options)
    restored = tf.saved_model.load(str(tmp_path))
    loss, grads = restored.step(x, mask)
    expected_loss, expected_grads = module.step(x, mask)
    assert_allclose(loss, expected_loss, atol=1e-5)
    assert_allclose(grads, expected_grads, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fused_path_equals_autodiff_under_tf_function_in_float32(name):
    ours, reference, x, initial_state = _layers(name, "float32")
    mask = MASKS["right"]
    fused = tf.function(lambda x, s, m: _outputs_and_grads(ours, x, s, m, training=True))
    our_outputs, our_grads = fused(x, initial_state, mask)
    ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask, True)
    assert_allclose(our_outputs, ref_outputs, atol=1e-5)
    assert_allclose(our_grads, ref_grads, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fused_path_under_xla(name):
    """A train step compiled with XLA (`jit_compile=True`, as Keras' ``jit_compile="auto"``
    does on a GPU) runs the fused loops: XLA's TensorLists keep one element shape, which the
    LSTMs' segmented backward once broke ("Invalid TensorList shape")."""
    ours, reference, x, initial_state = _layers(name, "float32")
    mask = MASKS["right"]
    compiled = tf.function(
        lambda x, s, m: _outputs_and_grads(ours, x, s, m, training=True), jit_compile=True
    )
    our_outputs, our_grads = compiled(x, initial_state, mask)
    ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask, True)
    assert_allclose(our_outputs, ref_outputs, atol=1e-5)
    assert_allclose(our_grads, ref_grads, atol=1e-5)


@pytest.mark.parametrize("name", ["lstm", "gru", "simple"])
def test_loops_in_one_function_keep_their_own_outputs(name):
    """Loops of the same shapes in one graph (the same layer twice on the same inputs, once
    on others, and a second layer), forward only and under a tape, keep distinct outputs,
    each equal to the cell's own steps: no buffer is shared between them (an in-place
    output buffer made by a foldable op, tried for memory, failed this for the GRU and the
    simple RNN)."""
    ours, reference, x, initial_state = _layers(name, "float64")
    other, _, _, _ = _layers(name, "float64")
    randomize(other, np.random.default_rng(7))
    second_x = x[::-1] * 0.5

    def calls(x, second_x, state):
        return (
            ours(x, initial_state=state)[0],
            ours(second_x, initial_state=state)[0],
            other(x, initial_state=state)[0],
            ours(x, initial_state=state)[0],
        )

    def recorded(x, second_x, state):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = calls(x, second_x, state)
        return outputs, tape.gradient(sum(tf.reduce_sum(o) for o in outputs), x)

    state = [tf.constant(s) for s in initial_state]
    expected = [
        reference(x, initial_state=state)[0],
        reference(second_x, initial_state=state)[0],
        keras.layers.RNN(other.cell, return_sequences=True, dtype="float64")(
            x, initial_state=state
        ),
    ]
    expected.append(expected[0])
    forward_only = tf.function(calls)(tf.constant(x), tf.constant(second_x), state)
    with_tape, _ = tf.function(recorded)(tf.constant(x), tf.constant(second_x), state)
    for outputs in (forward_only, with_tape):
        assert_allclose(list(outputs), expected, atol=1e-12, rtol=1e-12)
    assert np.abs(expected[0] - expected[1]).max() > 0.1  # the cases differ
    assert np.abs(expected[0] - expected[2]).max() > 0.1


@pytest.mark.parametrize("time", [T, 1])
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_batch_of_one_under_tf_function(name, masked, time):
    """A batch whose size is statically 1 (as `model.fit` traces one example): the backward
    loops' states keep their shapes (``[u, 1] + [u, ?]`` is [u, ?]: this once failed to
    trace) and the values and gradients are the cell's."""
    ours, reference, x, initial_state = _layers(name, "float64", batch=1, time=time)
    mask = tf.constant(padding_mask([max(time - 2, 1)], time)) if masked else None
    fused = tf.function(lambda x, s: _outputs_and_grads(ours, x, s, mask, training=True))
    our_outputs, our_grads = fused(tf.constant(x), [tf.constant(s) for s in initial_state])
    ref_outputs, ref_grads = _outputs_and_grads(reference, x, initial_state, mask, True)
    assert_allclose(our_outputs, ref_outputs, atol=1e-12, rtol=1e-12)
    assert_allclose(our_grads, ref_grads, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize(
    "family", [LSTM, PeepholeLSTM, CoupledLSTM, GRU, SimpleRNN], ids=lambda c: c.__name__
)
def test_fit_on_a_single_example(family):
    """`model.fit` on one example (its train function traced with a batch of 1) takes the
    same Adam step as Keras' loop running the same cell."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, T, D)).astype("float32")
    y = rng.normal(size=(1, U)).astype("float32")
    ours = family(U)
    ours(x)
    randomize(ours, rng)
    reference = keras.layers.RNN(ours.cell.__class__.from_config(ours.cell.get_config()))
    reference(x)
    initial = ours.get_weights()
    reference.set_weights(initial)
    weights = []
    for layer in (ours, reference):
        model = keras.Sequential([keras.Input((T, D)), layer])
        model.compile(keras.optimizers.Adam(0.1), "mse")
        model.fit(x, y, batch_size=1, epochs=2, verbose=0)
        weights.append(layer.get_weights())
    assert_allclose(weights[0], weights[1], atol=1e-5)
    assert all(not np.allclose(w, w0, atol=1e-2) for w, w0 in zip(weights[0], initial, strict=True))


@pytest.mark.parametrize(
    "family", [LSTM, PeepholeLSTM, CoupledLSTM, GRU, SimpleRNN], ids=lambda c: c.__name__
)
def test_gradient_of_the_last_output_only(family):
    """``return_sequences=False``, no states returned: only ``h_T`` carries a gradient."""
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(B, T, D)).astype("float64"))
    ours = family(U, dtype="float64")
    ours(x)
    randomize(ours, rng)
    reference = keras.layers.RNN(ours.cell, dtype="float64")
    grads = []
    for layer in (ours, reference):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.sin(layer(x)))
        grads.append(tape.gradient(loss, [x, *layer.trainable_weights]))
    assert_allclose(grads[0], grads[1], atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name", ["lstm", "peephole", "coupled"])
def test_gradient_of_the_final_carry_only(name):
    """A loss on ``c_T`` alone: the outputs' gradient is zero, the carry's is not."""
    ours, reference, x, initial_state = _layers(name, "float64")
    grads = []
    for layer in (ours, reference):
        x_t = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            _, _, c_last = layer(x_t, initial_state=initial_state)
            loss = tf.reduce_sum(tf.sin(c_last))
        grads.append(tape.gradient(loss, [x_t, *layer.trainable_weights]))
    assert_allclose(grads[0], grads[1], atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("family", [LSTM, GRU, SimpleRNN], ids=lambda c: c.__name__)
def test_training_step_matches_keras_builtin_layer(family):
    """One Adam step of our layer (fused) and of Keras' layer from the same weights."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(B, T, D)).astype("float32")
    ours = family(U, return_sequences=True)
    theirs = getattr(keras.layers, family.__name__)(U, return_sequences=True)
    ours(x)
    theirs(x)
    randomize(ours, rng)
    theirs.set_weights(ours.get_weights())
    for layer in (ours, theirs):
        optimizer = keras.optimizers.Adam(0.01)

        @tf.function
        def train_step(x, layer=layer, optimizer=optimizer):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(layer(x, training=True)))
            optimizer.apply(
                tape.gradient(loss, layer.trainable_variables), layer.trainable_variables
            )
            return loss

        for _ in range(3):
            train_step(x)
    assert_allclose(ours.get_weights(), theirs.get_weights(), atol=1e-5)


class TestDispatch:
    """The fused path takes only what it computes exactly; the rest runs the general loop."""

    def test_plain_cells_are_fused(self):
        cells = (
            LSTMCell(3),
            PeepholeLSTMCell(3),
            CoupledLSTMCell(3),
            GRUCell(3),
            GRUCell(3, reset_after=False),
            SimpleRNNCell(3),
        )
        for cell in cells:
            assert supports_fused_recurrence(cell, True, False)
        # The simple cell has no gates: its (unused) recurrent activation does not matter.
        assert supports_fused_recurrence(
            SimpleRNNCell(3, recurrent_activation="hard_sigmoid"), True, False
        )

    def test_other_cases_fall_back(self):
        assert not supports_fused_recurrence(LSTMCell(3), False, True)  # unroll
        assert not supports_fused_recurrence(CoupledLSTMCell(3, activation="relu"), False, False)
        assert not supports_fused_recurrence(PeepholeLSTMCell(3, activation="relu"), False, False)
        assert not supports_fused_recurrence(keras.layers.LSTMCell(3), False, False)
        assert not supports_fused_recurrence(LSTMCell(3, activation="relu"), False, False)
        assert not supports_fused_recurrence(SimpleRNNCell(3, activation="relu"), False, False)
        assert not supports_fused_recurrence(keras.layers.SimpleRNNCell(3), False, False)
        assert not supports_fused_recurrence(SimpleRNNCell(3, dropout=0.1), True, False)
        assert not supports_fused_recurrence(
            GRUCell(3, recurrent_activation="hard_sigmoid"), False, False
        )
        assert not supports_fused_recurrence(LSTMCell(3, dtype="mixed_float16"), False, False)
        assert supports_fused_recurrence(LSTMCell(3, dtype="mixed_bfloat16"), True, False)
        dropped = GRUCell(3, dropout=0.5, recurrent_dropout=0.5)
        assert not supports_fused_recurrence(dropped, True, False)
        # At inference dropout is off, so the fused path applies.
        assert supports_fused_recurrence(dropped, False, False)


@pytest.mark.parametrize(
    "family", [LSTM, PeepholeLSTM, CoupledLSTM, GRU, SimpleRNN], ids=lambda c: c.__name__
)
def test_saved_model_round_trip(family, tmp_path):
    """A SavedModel of an inference function holding the fused loop saves and serves."""
    layer, x, mask = _masked_layer(family, seed=3)
    module = _module(layer, serve=lambda x, mask: layer(x, mask=mask))
    tf.saved_model.save(module, str(tmp_path))
    restored = tf.saved_model.load(str(tmp_path))
    assert_allclose(restored.serve(x, mask), layer(x, mask=mask), atol=1e-6)
