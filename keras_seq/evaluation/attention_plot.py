"""Alignment matrices of translations, and their pictures."""

import math
import numbers

import numpy as np

from keras_seq._checked_ids import as_int
from keras_seq.decoding import BeamSearch, GreedySearch
from keras_seq.text.tokenizer import string_constant


def attention_alignment(model, text, beam_size=4, max_length=100, length_penalty=0.6):
    """The decoder's attention while translating ``text`` as ``model.translate`` does with
    the same ``beam_size``, ``length_penalty`` and ``max_length`` (greedy search for
    ``beam_size`` 1, else beam search with the GNMT length penalty): the rows belong to the
    translation that ``translate`` returns.

    Args:
        model: a `keras_seq.models.Seq2Seq` built with its tokenizers.
        text: str. One source sentence.
        beam_size: int >= 1. 1 for greedy decoding.
        max_length: int >= 1. Bound of the output length: as in ``translate``, the
            translation stops at ``min(max_length, 2 * source_tokens + 10)`` tokens, and the
            search allocates no more steps than that (any int up to 2**31 - 1 works).
        length_penalty: None or a finite number >= 0. GNMT alpha (0 or None: none), the
            default of ``Seq2Seq.translate``.

    Returns:
        ``(source_tokens, target_tokens, weights)``: the source pieces, the generated pieces
        (``</s>`` included) and ``weights`` [len(target_tokens), len(source_tokens)], row ``t``
        the attention distribution when the ``t``-th target piece was produced.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"`text` must be a non-empty sentence, got {text!r}.")
    given = max_length
    max_length = as_int(max_length)  # NumPy integers pass, as Python ints
    if max_length is None or max_length < 1:
        raise ValueError(f"`max_length` must be an int >= 1, got {given!r}.")
    if as_int(beam_size) is not None:
        beam_size = as_int(beam_size)
    if length_penalty is not None and (
        isinstance(length_penalty, bool)
        or not isinstance(length_penalty, numbers.Real)
        or not (math.isfinite(length_penalty) and length_penalty >= 0)
    ):
        raise ValueError(
            f"`length_penalty` must be None or a finite number >= 0, got {length_penalty!r}."
        )
    # As `Seq2Seq.translate` decodes: a plain beam search (no length penalty) can pick
    # another translation than the one ``translate`` returns, and the plot would show it.
    penalty = ("gnmt", float(length_penalty)) if length_penalty else None
    beam_search = BeamSearch(beam_size, length_penalty=penalty)  # checks beam_size
    strategy = GreedySearch() if beam_size == 1 else beam_search
    # As `translate` converts its texts: a lone surrogate ("\ud800", from JSON) becomes
    # U+FFFD, where `tf.constant` failed with "Error converting unicode string".
    source_ids = model.source_ids_from_text(string_constant([text]))
    source = [int(i) for i in source_ids[0].numpy() if i != 0]
    # `decode` stops a translation at ``2 * source_length + 10`` tokens; ``max_length_bound``
    # sizes its buffers (whole up to 1024 steps, and under XLA). ``max_length=2**31 - 1``
    # (accepted, and `translate` bounds its buffers the same way) asked for hundreds of GiB
    # and failed after minutes of allocation retries. The same translation, bounded by what
    # it can reach.
    bound = min(max_length, 2 * len(source) + 10)
    result = model.decode(source_ids, strategy, max_length_bound=bound)
    length = int(result.lengths[0, 0])
    target = [int(i) for i in result.ids[0, 0, :length].numpy()]
    weights = result.alignments[0, 0, :length, : len(source)].numpy()
    return (
        [model.source_tokenizer.id_to_token(i) for i in source],
        [model.target_tokenizer.id_to_token(i) for i in target],
        weights,
    )


def plot_attention(source_tokens, target_tokens, weights, path=None, title=None):
    """Draws an alignment matrix (rows: target pieces, columns: source pieces) with matplotlib.

    Args:
        source_tokens, target_tokens, weights: as `attention_alignment` returns them.
        path: optional file name (PNG, PDF, SVG...) to save the figure to.
        title: optional title.

    Returns:
        The matplotlib ``Figure``, not registered with pyplot (``plt.show`` does not list it).
        A notebook draws it when it is the cell's value once matplotlib's inline display is
        on (``%matplotlib inline``, or pyplot imported); before that it shows as text.

    Raises:
        ValueError: ``weights`` is not of shape [len(target_tokens), len(source_tokens)].
        ImportError: matplotlib (the optional ``plot`` extra) is not installed.

    Example:
    >>> alignment = attention_alignment(model, "Er hat es tun müssen.")  # doctest: +SKIP
    >>> plot_attention(*alignment, path="a.png")  # doctest: +SKIP
    """
    weights = np.asarray(weights)
    if weights.shape != (len(target_tokens), len(source_tokens)):
        raise ValueError(
            f"`weights` must have shape [targets, sources] = "
            f"{(len(target_tokens), len(source_tokens))}, got {weights.shape}."
        )
    try:
        # A bare Figure, not pyplot: pyplot would keep every figure open (memory grows over a
        # loop of sentences) and the backend of the caller's session stays untouched.
        from matplotlib.figure import Figure
    except ImportError as error:
        # matplotlib is the optional "plot" extra: say so rather than a bare module error.
        raise ImportError(
            "`plot_attention` needs matplotlib, the optional `plot` extra: "
            "pip install 'keras-seq[plot]' (or matplotlib>=3.8)."
        ) from error
    width = max(4.0, 0.45 * len(source_tokens) + 1.5)
    height = max(3.0, 0.4 * len(target_tokens) + 1.5)
    figure = Figure(figsize=(width, height))
    axes = figure.subplots()
    image = axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    # parse_math=False: tokens and sentences are text, not mathtext; a "$" pair in them
    # ("$$", r"$C:\Users$") failed the drawing with a ParseException, and a pair around
    # words drew them as a formula.
    axes.set_xticks(
        range(len(source_tokens)), source_tokens, rotation=60, ha="right", parse_math=False
    )
    axes.set_yticks(range(len(target_tokens)), target_tokens, parse_math=False)
    axes.set_xlabel("source")
    axes.set_ylabel("translation")
    if title:
        axes.set_title(title, parse_math=False)
    figure.colorbar(image, ax=axes, fraction=0.04)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure
