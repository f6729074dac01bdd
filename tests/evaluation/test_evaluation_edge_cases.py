"""Bad corpora given to the scores, and plots drawn in a loop."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import sacrebleu

from keras_seq.evaluation import corpus_bleu, corpus_chrf, plot_attention

HYPOTHESES = ["He had to do it.", "It is not my fault."]
REFERENCES = ["He had to do it.", "It's not my fault."]


@pytest.mark.parametrize("score", [corpus_bleu, corpus_chrf])
def test_scores_reject_a_bare_string_and_non_str_elements(score):
    """A str used to be scored as one-character sentences (chrF 80.0 for "He had"/"He hat")."""
    with pytest.raises(TypeError, match="`hypotheses` must be a list of strings"):
        score("He had", "He hat")
    with pytest.raises(TypeError, match="`references` must be a list of strings"):
        score(["He had"], "He hat")
    with pytest.raises(TypeError, match="`hypotheses` must be a list of str.*bytes"):
        score([text.encode() for text in HYPOTHESES], REFERENCES)
    with pytest.raises(TypeError, match="`hypotheses` must be a list of str.*NoneType"):
        score([None, "x"], REFERENCES)
    with pytest.raises(TypeError, match="`references` must be a list .*bytes.* at index 1"):
        score(HYPOTHESES, [REFERENCES[0], [REFERENCES[1], b"x"]])
    with pytest.raises(TypeError, match="`references` .*got an empty list at index 0"):
        score(HYPOTHESES, [[], REFERENCES[1]])
    # Lists, tuples, generators and NumPy arrays of str score as sacrebleu does.
    metric = sacrebleu.corpus_bleu if score is corpus_bleu else sacrebleu.corpus_chrf
    expected = metric(HYPOTHESES, [REFERENCES]).score
    assert score(tuple(HYPOTHESES), (r for r in REFERENCES)).score == pytest.approx(expected)
    assert score(np.array(HYPOTHESES), np.array(REFERENCES)).score == pytest.approx(expected)


def test_bleu_rejects_an_unknown_tokenizer_by_name():
    """An unknown name used to surface as a bare KeyError('nope') from sacrebleu."""
    with pytest.raises(ValueError, match="`tokenize` must be one of .*'13a'.*got 'nope'"):
        corpus_bleu(HYPOTHESES, REFERENCES, tokenize="nope")
    expected = sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES], tokenize="char").score
    assert corpus_bleu(HYPOTHESES, REFERENCES, tokenize="char").score == pytest.approx(expected)


def test_plots_leave_pyplot_and_the_backend_alone(tmp_path):
    """Figures used to stay open in pyplot (a warning after 20) and the backend became Agg."""
    backend = matplotlib.get_backend()
    open_figures = plt.get_fignums()
    for index in range(3):
        figure = plot_attention(
            ["a", "b"], ["x", "</s>"], np.full((2, 2), 0.5), path=tmp_path / f"{index}.png"
        )
        assert len(figure.axes) == 2  # the matrix and its colour bar
    assert plt.get_fignums() == open_figures
    assert matplotlib.get_backend() == backend
    assert (tmp_path / "2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("score", [corpus_bleu, corpus_chrf])
def test_several_references_per_hypothesis_score_as_sacrebleu_streams(score):
    """A list of references per hypothesis (their number may vary) is scored as sacrebleu
    scores reference streams, a missing reference being None; one reference in a list is
    the same as a bare str."""
    metric = sacrebleu.corpus_bleu if score is corpus_bleu else sacrebleu.corpus_chrf
    hypotheses = ["He had to do it.", "It is not my fault.", "I do not drink alcohol."]
    references = [
        ["He has had to do it.", "He had to do it."],
        "It's not my fault.",
        ["I drink no alcohol.", "I don't drink alcohol.", "I do not drink any alcohol."],
    ]
    streams = [
        ["He has had to do it.", "It's not my fault.", "I drink no alcohol."],
        ["He had to do it.", None, "I don't drink alcohol."],
        [None, None, "I do not drink any alcohol."],
    ]
    expected = metric(hypotheses, streams).score
    assert score(hypotheses, references).score == pytest.approx(expected)
    # More references can only raise BLEU here: the second stream matches the first line.
    single = score(hypotheses, [r if isinstance(r, str) else r[0] for r in references]).score
    assert score(hypotheses, references).score > single
    assert score(HYPOTHESES, [[r] for r in REFERENCES]).score == pytest.approx(
        score(HYPOTHESES, REFERENCES).score
    )
    # A hypothesis equal to one of its references scores 100 whatever the others.
    assert score(["a b c d e f"], [["x y z", "a b c d e f"]]).score == pytest.approx(100.0)
