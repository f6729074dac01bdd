"""Every example in the package's docstrings runs and prints what it shows.

Examples run with NumPy, TensorFlow, Keras and every public name of keras_seq in scope;
fragments that need a trained model or the user's data are marked ``# doctest: +SKIP``.
"""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seq


def _modules():
    return sorted(
        info.name
        for info in pkgutil.walk_packages(keras_seq.__path__, "keras_seq.")
        if ".data." not in info.name and not info.name.endswith(".data")
    )


def _public_names():
    names = {"np": np, "tf": tf, "keras": keras, "keras_seq": keras_seq}
    for name in _modules():
        module = importlib.import_module(name)
        names.update({key: getattr(module, key) for key in getattr(module, "__all__", ())})
    return names


MODULES = [
    name
    for name in _modules()
    if any(test.examples for test in doctest.DocTestFinder().find(importlib.import_module(name)))
]


def test_the_walk_finds_the_examples():
    # A walk that found nothing would pass every test below.
    assert len(MODULES) >= 40
    assert {"keras_seq.cells.lstm_cell", "keras_seq.decoding.beam_search"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    results = doctest.testmod(
        module,
        extraglobs=_public_names(),
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        report=True,
    )
    assert results.failed == 0, f"{results.failed} example(s) of {name} failed (output above)"
