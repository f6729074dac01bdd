"""Alignment matrices of translations, and their pictures."""

import numpy as np
import tensorflow as tf

from keras_seq.decoding import BeamSearch


def attention_alignment(model, text, beam_size=4, max_length=100):
    """The decoder's attention while translating ``text`` with beam search.

    Args:
        model: a `keras_seq.models.Seq2Seq` built with its tokenizers.
        text: str. One source sentence.

    Returns:
        ``(source_tokens, target_tokens, weights)``: the source pieces, the generated pieces
        (``</s>`` included) and ``weights`` [len(target_tokens), len(source_tokens)], row ``t``
        the attention distribution when the ``t``-th target piece was produced.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"`text` must be a non-empty sentence, got {text!r}.")
    source_ids = model.source_ids_from_text(tf.constant([text]))
    result = model.decode(source_ids, BeamSearch(beam_size), max_length_bound=max_length)
    length = int(result.lengths[0, 0])
    source = [int(i) for i in source_ids[0].numpy() if i != 0]
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
    >>> plot_attention(*attention_alignment(model, "Er hat es tun müssen."), path="a.png")
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
    axes.set_xticks(range(len(source_tokens)), source_tokens, rotation=60, ha="right")
    axes.set_yticks(range(len(target_tokens)), target_tokens)
    axes.set_xlabel("source")
    axes.set_ylabel("translation")
    if title:
        axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.04)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure
