"""Round 13 probes of the scores."""

import numpy as np
import pytest
import sacrebleu

from keras_seq.evaluation import corpus_bleu, corpus_chrf

HYPOTHESES = ["The cat sat on the mat.", "It is not my fault."]
REFERENCES = ["the cat sat on the mat.", "It's not my fault."]


@pytest.mark.parametrize("lowercase", ["False", "no", 0, None])
def test_bleu_refuses_a_lowercase_that_is_not_a_bool(lowercase):
    """sacrebleu takes any truthy value: "False" from a config file lower-cased both sides
    (78.75 instead of 67.94 here) without a word."""
    with pytest.raises(TypeError, match="`lowercase` must be a bool, got "):
        corpus_bleu(HYPOTHESES, REFERENCES, lowercase=lowercase)
    cased = sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES]).score
    folded = sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES], lowercase=True).score
    assert (round(cased, 2), round(folded, 2)) == (67.94, 78.75)
    assert corpus_bleu(HYPOTHESES, REFERENCES, lowercase=False).score == pytest.approx(cased)
    assert corpus_bleu(HYPOTHESES, REFERENCES, lowercase=np.True_).score == pytest.approx(folded)


@pytest.mark.parametrize("score", [corpus_bleu, corpus_chrf])
def test_scores_refuse_sets_and_dicts(score):
    """A dict of references keyed by sentence id was scored as its keys, and a set pairs
    hypotheses with references in hash order: both without any error."""
    by_id = {"s1": REFERENCES[0], "s2": REFERENCES[1]}
    with pytest.raises(TypeError, match="`references` must be a list of strings in corpus order"):
        score(HYPOTHESES, by_id)
    with pytest.raises(TypeError, match="`hypotheses` .* in corpus order, got a set"):
        score(set(HYPOTHESES), REFERENCES)
    with pytest.raises(TypeError, match="`hypotheses` .* in corpus order, got a frozenset"):
        score(frozenset(HYPOTHESES), REFERENCES)
    metric = sacrebleu.corpus_bleu if score is corpus_bleu else sacrebleu.corpus_chrf
    expected = metric(HYPOTHESES, [REFERENCES]).score
    assert score(HYPOTHESES, list(by_id.values())).score == pytest.approx(expected)
