"""Corpus-level translation scores computed by sacrebleu."""

import collections.abc

import numpy as np
import sacrebleu


def _check(hypotheses, references):
    """(hypotheses, reference streams) for sacrebleu, or a clear error.

    ``references`` holds, per hypothesis, a str or a non-empty list / tuple of str (its
    references; their number may vary). sacrebleu takes streams: the j-th reference of every
    hypothesis, ``None`` where a hypothesis has fewer than j + 1 (which sacrebleu skips).
    """
    for name, texts in (("hypotheses", hypotheses), ("references", references)):
        # A bare string would be scored as a corpus of one-character sentences.
        if isinstance(texts, (str, bytes)):
            raise TypeError(
                f"`{name}` must be a list of strings, got a single string {texts!r:.60}."
            )
        # A set has no order and a dict iterates its keys: either paired hypotheses with
        # the wrong references (or scored ids as text) without any error.
        if isinstance(texts, (collections.abc.Set, collections.abc.Mapping)):
            raise TypeError(
                f"`{name}` must be a list of strings in corpus order, got a "
                f"{type(texts).__name__}; pass a list (`list(mapping.values())` in the order "
                "of the other side)."
            )
    hypotheses, references = list(hypotheses), list(references)
    wrong = [text for text in hypotheses if not isinstance(text, str)]
    if wrong:
        raise TypeError(
            f"`hypotheses` must be a list of str; got an element {wrong[0]!r:.60} of type "
            f"{type(wrong[0]).__name__}."
        )
    per_hypothesis = reference_lists(references)
    if len(hypotheses) != len(references):
        # sacrebleu takes streams, ``[refs]`` (the j-th reference of every hypothesis): say so
        # rather than only that the lengths differ.
        streams = all(len(entries) == len(hypotheses) for entries in per_hypothesis) and any(
            isinstance(entry, (list, tuple, np.ndarray)) for entry in references
        )
        hint = (
            " `references` looks like sacrebleu's streams (one list per reference, each with an "
            "entry per hypothesis): pass one entry per hypothesis, `[list(refs) for refs in "
            "zip(*references)]`."
            if streams
            else ""
        )
        raise ValueError(
            f"`hypotheses` and `references` must have the same length, got {len(hypotheses)} "
            f"and {len(references)}.{hint}"
        )
    if not hypotheses:
        raise ValueError("`hypotheses` is empty: nothing to score.")
    streams = max(len(entries) for entries in per_hypothesis)
    return hypotheses, [
        [entries[j] if j < len(entries) else None for entries in per_hypothesis]
        for j in range(streams)
    ]


def reference_lists(references, per="hypothesis"):
    """``references`` (per ``per``: a str, or a non-empty list / tuple of str) as a list of
    lists of str; TypeError naming the first bad entry and its index."""
    lists = []
    for index, entry in enumerate(references):
        # A row of a 2-D NumPy array (`df[["ref1", "ref2"]].to_numpy()`) is a list too.
        several = isinstance(entry, (list, tuple)) or (
            isinstance(entry, np.ndarray) and entry.ndim == 1
        )
        entries = list(entry) if several else [entry]
        wrong = [text for text in entries if not isinstance(text, str)]
        if wrong or (several and not entries):
            found = (
                "an empty list"
                if not entries
                else f"an element {wrong[0]!r:.60} of type {type(wrong[0]).__name__}"
            )
            raise TypeError(
                f"`references` must be a list with, per {per}, a str or a non-empty list of "
                f"str (its references); got {found} at index {index}."
            )
        lists.append(entries)
    return lists


def corpus_bleu(hypotheses, references, tokenize="13a", lowercase=False):
    """Corpus BLEU (Papineni et al. 2002) of detokenized strings, as sacrebleu computes it.

    ``BLEU = BP · exp(Σ_{n=1..4} ¼ log p_n)`` with clipped n-gram precisions ``p_n`` over the
    whole corpus and brevity penalty ``BP = min(1, exp(1 − r/c))``; defaults are sacrebleu's
    (13a tokenization, cased), so figures compare with published ones.

    Args:
        hypotheses: list of str. The system outputs.
        references: list with one entry per hypothesis, in the same order: a str (its
            reference) or a non-empty list of str (several references; their number may
            differ between hypotheses; the rows of a 2-D NumPy array of str are such
            lists). An n-gram counts up to its largest count in any one reference, and the
            brevity penalty uses the reference length closest to the hypothesis', as in
            sacrebleu.
        tokenize: str. A sacrebleu tokenizer name ("13a", "intl", "zh", "char", "none", ...).
        lowercase: bool. Lower-case both sides before matching.

    Returns:
        The sacrebleu ``BLEUScore`` (``.score`` is BLEU in [0, 100]; ``str()`` is the
        signature-style summary).

    Raises:
        TypeError: ``hypotheses`` or ``references`` is a single string, a set or a dict
            (no corpus order), or holds a non-str (bytes from ``detokenize(...).numpy()``
            must be decoded first), a hypothesis has an empty list of references,
            ``lowercase`` is not a bool, or ``tokenize`` is not a str.
        ValueError: lengths differ (with a hint when ``references`` is given as sacrebleu's
            streams, ``[refs]``), nothing to score, or an unknown ``tokenize``.
    """
    if not isinstance(lowercase, (bool, np.bool_)):
        # sacrebleu takes any truthy value: "False" or "no" from a config lower-cased.
        raise TypeError(f"`lowercase` must be a bool, got {lowercase!r}.")
    if not isinstance(tokenize, str):
        # A list or dict failed in the lookup below with "unhashable type: 'list'".
        raise TypeError(
            f"`tokenize` must be a str, one of {sorted(sacrebleu.BLEU.TOKENIZERS)}, got "
            f"{tokenize!r:.60}."
        )
    if tokenize not in sacrebleu.BLEU.TOKENIZERS:
        raise ValueError(
            f"`tokenize` must be one of {sorted(sacrebleu.BLEU.TOKENIZERS)}, got {tokenize!r}."
        )
    hypotheses, references = _check(hypotheses, references)
    return sacrebleu.corpus_bleu(
        hypotheses, references, tokenize=tokenize, lowercase=bool(lowercase)
    )


def corpus_chrf(hypotheses, references):
    """Corpus chrF (Popović 2015): character n-gram F-score (β = 2), as sacrebleu computes it.

    ``hypotheses`` and ``references`` are as in `corpus_bleu` (one reference or a list of
    references per hypothesis; with several, each segment is scored against its best
    reference, as in sacrebleu) and raise the same errors. Returns the sacrebleu
    ``CHRFScore`` (``.score`` in [0, 100]).
    """
    hypotheses, references = _check(hypotheses, references)
    return sacrebleu.corpus_chrf(hypotheses, references)
