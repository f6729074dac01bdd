"""Corpus-level translation scores computed by sacrebleu."""

import sacrebleu


def _check(hypotheses, references):
    for name, texts in (("hypotheses", hypotheses), ("references", references)):
        # A bare string would be scored as a corpus of one-character sentences.
        if isinstance(texts, (str, bytes)):
            raise TypeError(
                f"`{name}` must be a list of strings, got a single string {texts!r:.60}."
            )
    hypotheses, references = list(hypotheses), list(references)
    for name, texts, what in (
        ("hypotheses", hypotheses, "str"),
        ("references", references, "str, one reference per hypothesis"),
    ):
        wrong = [text for text in texts if not isinstance(text, str)]
        if wrong:
            raise TypeError(
                f"`{name}` must be a list of {what}; got an element {wrong[0]!r:.60} of type "
                f"{type(wrong[0]).__name__}."
            )
    if len(hypotheses) != len(references):
        raise ValueError(
            f"`hypotheses` and `references` must have the same length, got {len(hypotheses)} "
            f"and {len(references)}."
        )
    if not hypotheses:
        raise ValueError("`hypotheses` is empty: nothing to score.")
    return hypotheses, [references]


def corpus_bleu(hypotheses, references, tokenize="13a", lowercase=False):
    """Corpus BLEU (Papineni et al. 2002) of detokenized strings, as sacrebleu computes it.

    ``BLEU = BP · exp(Σ_{n=1..4} ¼ log p_n)`` with clipped n-gram precisions ``p_n`` over the
    whole corpus and brevity penalty ``BP = min(1, exp(1 − r/c))``; defaults are sacrebleu's
    (13a tokenization, cased), so figures compare with published ones.

    Args:
        hypotheses: list of str. The system outputs.
        references: list of str. One reference per hypothesis, in the same order.
        tokenize: str. A sacrebleu tokenizer name ("13a", "intl", "zh", "char", "none", ...).
        lowercase: bool. Lower-case both sides before matching.

    Returns:
        The sacrebleu ``BLEUScore`` (``.score`` is BLEU in [0, 100]; ``str()`` is the
        signature-style summary).

    Raises:
        TypeError: ``hypotheses`` or ``references`` is a single string or holds a non-str
            (bytes from ``detokenize(...).numpy()`` must be decoded first).
        ValueError: lengths differ, nothing to score, or an unknown ``tokenize``.
    """
    if tokenize not in sacrebleu.BLEU.TOKENIZERS:
        raise ValueError(
            f"`tokenize` must be one of {sorted(sacrebleu.BLEU.TOKENIZERS)}, got {tokenize!r}."
        )
    hypotheses, references = _check(hypotheses, references)
    return sacrebleu.corpus_bleu(hypotheses, references, tokenize=tokenize, lowercase=lowercase)


def corpus_chrf(hypotheses, references):
    """Corpus chrF (Popović 2015): character n-gram F-score (β = 2), as sacrebleu computes it.

    ``hypotheses`` and ``references`` are as in `corpus_bleu` (one reference per hypothesis)
    and raise the same errors. Returns the sacrebleu ``CHRFScore`` (``.score`` in [0, 100]).
    """
    hypotheses, references = _check(hypotheses, references)
    return sacrebleu.corpus_chrf(hypotheses, references)
