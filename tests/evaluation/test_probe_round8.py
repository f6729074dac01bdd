"""plot_attention without matplotlib (the optional ``plot`` extra)."""

import sys

import numpy as np
import pytest

from keras_seq.evaluation import plot_attention


def test_plot_attention_without_matplotlib_names_the_extra(monkeypatch):
    # Was a bare "import of matplotlib.figure halted; None in sys.modules" /
    # "No module named 'matplotlib'" with nothing about the `plot` extra.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"needs matplotlib.*keras-seq\[plot\]"):
        plot_attention(["a", "b"], ["x"], np.full((1, 2), 0.5))
    # A bad shape is still named first, with or without matplotlib.
    with pytest.raises(ValueError, match="`weights` must have shape"):
        plot_attention(["a", "b"], ["x"], np.full((2, 2), 0.5))
