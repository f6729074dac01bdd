"""Round 18 probes of `Bridge` and `StackedRNN`.

- `Bridge(decoder_state_sizes=np.array([[4, 4]]))` failed with NumPy's "The truth value of an
  array with more than one element is ambiguous", naming no argument; an array of sizes (or a
  list of arrays, one per level) is now read as the lists it holds.
- `StackedRNN(..., merge_mode="avg")` (a misspelling) was accepted and kept in the config when
  ``bidirectional=False``; it failed only once the stack was made bidirectional.
- `SequencePooling("mean")` of integer inputs under `mixed_float16` cast them to float16
  before its float32 sum: an int above 65504 became inf (70000 and 0 gave a mean of inf for
  35000). Integers now go to float32 directly.
"""

import json

import numpy as np
import pytest

from keras_seq.layers import LSTM, Bridge, SequencePooling, StackedRNN


@pytest.mark.parametrize(
    "sizes",
    [np.array([[4, 4], [4, 4]]), [np.array([4, 4]), np.array([4, 4])]],
    ids=["array", "list_of_arrays"],
)
def test_bridge_reads_numpy_sizes_as_lists(sizes):
    bridge = Bridge("copy", decoder_state_sizes=sizes)
    assert bridge.decoder_state_sizes == [[4, 4], [4, 4]]
    assert all(type(size) is int for level in bridge.decoder_state_sizes for size in level)
    json.dumps(bridge.get_config())
    rng = np.random.default_rng(0)
    encoder = [[rng.normal(size=(2, 4)).astype("float32") for _ in range(2)] for _ in range(3)]
    states = bridge(encoder)
    # copy: the two decoder levels start from the top two encoder levels, unchanged
    for got, want in zip(states, encoder[1:], strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_bridge_still_names_a_flat_array_of_sizes():
    with pytest.raises(ValueError, match="`decoder_state_sizes` must list, per decoder level"):
        Bridge("dense", decoder_state_sizes=np.array([4, 4]))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_stack_refuses_a_misspelt_merge_mode_in_either_direction(bidirectional):
    with pytest.raises(ValueError, match="`merge_mode` of a stack must be .*'avg'"):
        StackedRNN(LSTM(3), bidirectional=bidirectional, merge_mode="avg")


def test_stack_still_takes_every_valid_merge_mode():
    for merge_mode in ("concat", "sum", "mul", "ave"):
        for bidirectional in (False, True):
            stack = StackedRNN(LSTM(3), bidirectional=bidirectional, merge_mode=merge_mode)
            assert stack.get_config()["merge_mode"] == merge_mode
    # None has no meaning without a backward direction, and is kept as it was.
    assert StackedRNN(LSTM(3), merge_mode=None).merge_mode is None
    with pytest.raises(ValueError, match="got None"):
        StackedRNN(LSTM(3), bidirectional=True, merge_mode=None)


@pytest.mark.parametrize(
    ("policy", "rtol"), [("mixed_float16", 1e-3), ("mixed_bfloat16", 1e-2), ("float32", 1e-7)]
)
def test_mean_of_large_integers_under_a_half_policy(policy, rtol):
    inputs = np.array([[[70000, 3], [0, 4], [5, 100000]], [[66000, 1], [70001, 2], [9, 9]]])
    mask = np.array([[True, True, False], [True, True, True]])
    pooled = SequencePooling("mean", dtype=policy)(inputs.astype("int32"), mask=mask)
    expected = np.array(
        [inputs[i][mask[i]].astype(np.float64).mean(axis=0) for i in range(len(inputs))]
    )
    assert str(pooled.dtype.name) == policy.replace("mixed_", "")
    np.testing.assert_allclose(np.asarray(pooled, np.float64), expected, rtol=rtol)
