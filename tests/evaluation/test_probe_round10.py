"""Evaluation probe round 10: the attention plotted is that of the translation `translate`
returns (same length penalty, greedy for beam size 1), and tokens or sentences holding "$"
are drawn as text, not parsed as mathtext (which failed the drawing)."""

import numpy as np
import pytest

from keras_seq.evaluation import attention_alignment, plot_attention
from tests.evaluation.translators import SOURCE, good_or_nothing_translator, translation_of


@pytest.fixture(scope="module")
def good_or_nothing():
    return good_or_nothing_translator()


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"beam_size": 4}, ["▁good"] * 16),  # translate's default length penalty, 0.6
        ({"beam_size": 4, "length_penalty": 0.0}, ["</s>"]),
        ({"beam_size": 4, "length_penalty": None}, ["</s>"]),
        ({"beam_size": 1}, ["▁good"] * 16),  # greedy, as translate decodes beam size 1
    ],
)
def test_alignment_is_that_of_the_translation_translate_returns(good_or_nothing, options, expected):
    # The plain beam search it ran stopped at "</s>" where translate (alpha 0.6) returns
    # sixteen "good": the picture showed another translation than test.hyp.txt.
    model = good_or_nothing
    translation = model.translate([SOURCE], **options)[0]
    source_tokens, target_tokens, weights = attention_alignment(model, SOURCE, **options)
    assert source_tokens == ["das", "▁ist", "▁gut"]
    assert target_tokens == expected
    assert translation_of(model, target_tokens) == translation
    assert weights.shape == (len(expected), 3)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)


def test_alignment_names_a_bad_max_length_or_length_penalty(good_or_nothing):
    with pytest.raises(ValueError, match=r"`max_length` must be an int >= 1, got 0"):
        attention_alignment(good_or_nothing, SOURCE, max_length=0)
    for penalty in (-1.0, float("nan"), True):
        with pytest.raises(ValueError, match="`length_penalty` must be None or a finite"):
            attention_alignment(good_or_nothing, SOURCE, length_penalty=penalty)


def test_plot_draws_dollar_signs_and_backslashes_as_text(tmp_path):
    # "$$" and "$a_b_c$" as tick labels, r"$C:\Users\x$" in a title failed savefig with a
    # mathtext ParseException (after a whole training, in recipes/translate.py).
    sources = ["$$", "$a_b_c$", "kostet"]
    targets = ["costs", "$"]
    title = r"Pfad $C:\Users\x$ kostet $5 und $6"
    path = tmp_path / "alignment.png"
    figure = plot_attention(sources, targets, np.full((2, 3), 1 / 3), path=path, title=title)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = figure.axes[0]
    x_labels = axes.get_xticklabels()
    y_labels = axes.get_yticklabels()
    assert [label.get_text() for label in x_labels] == sources
    assert [label.get_text() for label in y_labels] == targets
    assert axes.title.get_text() == title
    # Drawn as written: "$5 und $" is not a formula.
    assert not any(label.get_parse_math() for label in [*x_labels, *y_labels, axes.title])
