"""Evaluation probe round 16: `attention_alignment` bounds the search's buffers by the
longest translation the source can have (as `translate` does: ``max_length=2**31 - 1`` asked
for hundreds of GiB and failed after minutes), and converts its text as `translate` does (a
lone surrogate failed in `tf.constant`)."""

import pytest
import sacrebleu

from keras_seq.evaluation import attention_alignment, corpus_bleu
from tests.evaluation.translators import SOURCE, good_or_nothing_translator, translation_of


@pytest.fixture(scope="module")
def good_or_nothing():
    return good_or_nothing_translator()


@pytest.mark.parametrize("beam_size", [1, 4])
def test_huge_max_length_decodes_within_the_reachable_bound(
    good_or_nothing, monkeypatch, beam_size
):
    model = good_or_nothing
    bounds = []
    decode = model.decode

    def spy(source_ids, strategy, **kwargs):
        bounds.append(kwargs["max_length_bound"])
        # The old code asked for buffers of 2**31 - 1 steps (32 GiB per [1, 4, T] buffer).
        assert kwargs["max_length_bound"] <= 2 * 3 + 10, kwargs
        return decode(source_ids, strategy, **kwargs)

    monkeypatch.setattr(model, "decode", spy)
    source_tokens, target_tokens, weights = attention_alignment(
        model, SOURCE, beam_size=beam_size, max_length=2**31 - 1
    )
    monkeypatch.undo()
    assert bounds == [16]
    assert source_tokens == ["das", "▁ist", "▁gut"]
    # The translation `translate` returns with the same arguments: 16 "good".
    assert target_tokens == ["▁good"] * 16
    translation = model.translate([SOURCE], beam_size=beam_size, max_length=2**31 - 1)[0]
    assert translation == translation_of(model, target_tokens)
    assert weights.shape == (16, 3)


def test_small_max_length_still_cuts_the_translation(good_or_nothing):
    _, target_tokens, weights = attention_alignment(good_or_nothing, SOURCE, max_length=5)
    assert target_tokens == ["▁good"] * 5
    assert weights.shape == (5, 3)


def test_lone_surrogate_is_read_as_translate_reads_it(good_or_nothing):
    # tf.constant failed: "Error converting unicode string while converting Python sequence".
    model = good_or_nothing
    source_tokens, target_tokens, _ = attention_alignment(model, "das \ud800", beam_size=1)
    # U+FFFD falls back to its three UTF-8 bytes, after the space marker.
    assert source_tokens == ["das", "▁", "<0xEF>", "<0xBF>", "<0xBD>"]
    assert target_tokens == ["▁good"] * (2 * 5 + 10)
    translation = model.translate(["das \ud800"], beam_size=1)[0]
    assert translation == translation_of(model, target_tokens)


@pytest.mark.parametrize("tokenize", [["13a"], {"13a": 1}, ("13a",)])
def test_corpus_bleu_names_a_tokenize_that_is_not_a_str(tokenize):
    # A list or dict failed with a bare "unhashable type: 'list'".
    with pytest.raises(TypeError, match=r"`tokenize` must be a str, one of \["):
        corpus_bleu(["a b c d"], ["a b c d"], tokenize=tokenize)


def test_corpus_bleu_with_a_tokenizer_name_equals_sacrebleu():
    hypotheses = ["the cat sat on the mat", "hello there", ""]
    references = [["the cat sat on a mat", "a cat sat on the mat"], "hello there friend", ["x"]]
    streams = [
        ["the cat sat on a mat", "hello there friend", "x"],
        ["a cat sat on the mat", None, None],
    ]
    for tokenize in ("13a", "intl", "char", "none"):
        expected = sacrebleu.corpus_bleu(hypotheses, streams, tokenize=tokenize).score
        assert corpus_bleu(hypotheses, references, tokenize=tokenize).score == expected
