import keras
import numpy as np
import pytest
import sacrebleu

from keras_seq.evaluation import (
    BleuEvaluation,
    attention_alignment,
    corpus_bleu,
    corpus_chrf,
    plot_attention,
)
from keras_seq.models import Seq2Seq
from keras_seq.text import WordPieceTokenizer

HYPOTHESES = ["He had to do it.", "It is not my fault.", "The weather is nice today."]
REFERENCES = ["He had to do it.", "It's not my fault.", "The weather is nice."]


def test_scores_are_sacrebleu_defaults():
    bleu = corpus_bleu(HYPOTHESES, REFERENCES)
    assert bleu.score == pytest.approx(sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES]).score)
    cased_13a = sacrebleu.BLEU(tokenize="13a", lowercase=False)
    assert bleu.score == pytest.approx(cased_13a.corpus_score(HYPOTHESES, [REFERENCES]).score)
    assert corpus_bleu(REFERENCES, REFERENCES).score == pytest.approx(100.0)
    chrf = corpus_chrf(HYPOTHESES, REFERENCES)
    assert chrf.score == pytest.approx(sacrebleu.corpus_chrf(HYPOTHESES, [REFERENCES]).score)
    with pytest.raises(ValueError, match="same length"):
        corpus_bleu(HYPOTHESES, REFERENCES[:2])
    with pytest.raises(ValueError, match="empty"):
        corpus_chrf([], [])


@pytest.fixture(scope="module")
def translator():
    keras.utils.set_random_seed(0)
    sources = ["Er hat es tun müssen.", "Das ist nicht meine Schuld."]
    targets = ["He had to do it.", "It's not my fault."]
    model = Seq2Seq(
        embedding_dim=8,
        units=8,
        source_tokenizer=WordPieceTokenizer.from_corpus(sources, 300),
        target_tokenizer=WordPieceTokenizer.from_corpus(targets, 300),
    )
    model.build()
    return model


def test_alignment_rows_are_attention_distributions_and_plot(translator, tmp_path):
    source, target, weights = attention_alignment(translator, "Er hat es tun müssen.", 2, 6)
    assert weights.shape == (len(target), len(source))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    # The source labels are the WordPiece pieces of the sentence, in order.
    assert "".join(source).replace("##", "").replace("▁", " ") == "Er hat es tun müssen."
    path = tmp_path / "attention.png"
    plot_attention(source, target, weights, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="shape"):
        plot_attention(source, target, weights[:, :1])
    with pytest.raises(ValueError, match="non-empty"):
        attention_alignment(translator, " ")


def test_bleu_callback_logs_dev_scores(translator):
    callback = BleuEvaluation(["Er hat es tun müssen."], ["He had to do it."], max_length=6)
    callback.set_model(translator)
    logs = {}
    callback.on_epoch_end(0, logs)
    expected = corpus_bleu(
        translator.translate(["Er hat es tun müssen."], 1, max_length=6), ["He had to do it."]
    )
    assert logs["val_bleu"] == pytest.approx(expected.score)
    assert callback.history[0]["epoch"] == 1
    callback.on_epoch_end(1, {})
    seconds = [entry["seconds"] for entry in callback.history]
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    assert callback.seconds == pytest.approx(sum(seconds))
    with pytest.raises(ValueError, match="same length"):
        BleuEvaluation(["a"], [])
    # Several references per source: the logged score is corpus_bleu's with all of them.
    several = [["He had to do it.", "He has had to do it."]]
    callback = BleuEvaluation(["Er hat es tun müssen."], several, max_length=6)
    callback.set_model(translator)
    logs = {}
    callback.on_epoch_end(0, logs)
    hypotheses = translator.translate(["Er hat es tun müssen."], 1, max_length=6)
    assert logs["val_bleu"] == pytest.approx(corpus_bleu(hypotheses, several).score)
    assert logs["val_chrf"] == pytest.approx(corpus_chrf(hypotheses, several).score)


@pytest.mark.parametrize(
    "argument, value",
    [("every", 0), ("every", -2), ("every", 1.5), ("every", True), ("beam_size", 0)]
    + [("beam_size", "2"), ("max_length", 0), ("max_length", None)],
)
def test_bleu_callback_rejects_bad_settings_before_training(argument, value):
    """`every=0` used to pass and crash `fit` with ZeroDivisionError after the first epoch."""
    with pytest.raises(ValueError, match=f"`{argument}` must be an int >= 1"):
        BleuEvaluation(["Er hat es tun müssen."], ["He had to do it."], **{argument: value})


def test_bleu_callback_rejects_a_bare_string_dev_set():
    """A str would have been read as one sentence per character."""
    with pytest.raises(TypeError, match="`sources` must be a list of strings"):
        BleuEvaluation("Er hat", "He had")
    with pytest.raises(TypeError, match="`references` must be a list with, per source, a str"):
        BleuEvaluation(["Er hat"], [None])
    with pytest.raises(TypeError, match="`references` must be a list with, per source, a str"):
        BleuEvaluation(["Er hat"], [[]])
