"""Round 11 probes of the scores."""

import numpy as np
import pytest
import sacrebleu

from keras_seq.evaluation import corpus_bleu, corpus_chrf


@pytest.mark.parametrize("score", [corpus_bleu, corpus_chrf])
def test_rows_of_a_2d_numpy_array_are_several_references(score):
    """A [hypotheses, references] NumPy array (`df[["ref1", "ref2"]].to_numpy()`) was refused
    with a TypeError calling each row "an element ... of type ndarray"."""
    metric = sacrebleu.corpus_bleu if score is corpus_bleu else sacrebleu.corpus_chrf
    hypotheses = ["He had to do it.", "It is not my fault."]
    references = np.array(
        [["He has had to do it.", "He had to do it."], ["It's not my fault.", "Not my fault."]]
    )
    expected = metric(hypotheses, [list(column) for column in references.T]).score
    assert score(hypotheses, references).score == expected
    assert score(hypotheses, [list(row) for row in references]).score == expected
    assert score(np.array(hypotheses), references).score == expected
    # An empty row is still an empty list of references.
    with pytest.raises(TypeError, match="got an empty list at index 0"):
        score(["a"], np.empty([1, 0], dtype=str))
