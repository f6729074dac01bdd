"""Round 14 probes of the evaluation helpers."""

import numpy as np
import pytest

from keras_seq.evaluation import BleuEvaluation, attention_alignment


def test_bleu_evaluation_takes_numpy_integers():
    """`max_length=lengths.max()` (an np.int64) was refused as "must be an int >= 1, got
    np.int64(40)"; NumPy integers are ints elsewhere in the library (pipelines, metrics).
    They are kept as Python ints, for `translate`."""
    callback = BleuEvaluation(
        ["a b"], ["a b"], beam_size=np.int64(2), every=np.int32(3), max_length=np.int64(40)
    )
    assert (callback.beam_size, callback.every, callback.max_length) == (2, 3, 40)
    assert all(type(v) is int for v in (callback.beam_size, callback.every, callback.max_length))
    for bad in (True, 2.0, np.float64(2.0), "2", np.int64(0)):
        with pytest.raises(ValueError, match="`every` must be an int >= 1"):
            BleuEvaluation(["a b"], ["a b"], every=bad)


class _Reached(Exception):
    pass


class _Model:
    """Stops `attention_alignment` where it starts decoding: its arguments passed."""

    def source_ids_from_text(self, text):
        raise _Reached


def test_attention_alignment_takes_numpy_integers():
    with pytest.raises(_Reached):
        attention_alignment(_Model(), "Hallo.", beam_size=np.int64(2), max_length=np.int64(9))
    with pytest.raises(ValueError, match="`max_length` must be an int >= 1, got 9.0"):
        attention_alignment(_Model(), "Hallo.", max_length=9.0)
