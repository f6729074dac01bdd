"""Keras callback that scores translations of a held-out set with sacrebleu."""

import time

import keras
import numpy as np

from keras_seq._checked_ids import as_int
from keras_seq.evaluation.scores import corpus_bleu, corpus_chrf, reference_lists


class BleuEvaluation(keras.callbacks.Callback):
    """Translates ``sources`` at the end of every ``every``-th epoch and logs BLEU and chrF.

    The scores enter the epoch's ``logs`` as ``val_bleu`` and ``val_chrf``, so
    `keras.callbacks.ModelCheckpoint(monitor="val_bleu", mode="max")` and ``EarlyStopping``
    can select on them (list this callback before them).

    Args:
        sources, references: non-empty lists of the same length (the dev set): a str per
            source, and per source a str or a list of str (several references). NumPy
            arrays of str are such lists: a 1-D one, or a 2-D one of references whose row
            holds the references of its source.
        beam_size: int >= 1. 1 for greedy decoding (fast), more for beam search.
        every: int >= 1. Evaluate every ``every`` epochs (and the logs of other epochs carry
            no score).
        max_length: int >= 1. Static bound of the output length.

    Attributes:
        history: one dict per evaluation: ``epoch``, ``bleu``, ``chrf`` and ``seconds`` (the
            time the evaluation took, decoding included).
        seconds: the total of ``seconds``: what `fit`'s wall time spent here rather than
            training.

    Example:
    >>> callbacks = [BleuEvaluation(dev_de, dev_en), checkpoint]  # doctest: +SKIP
    >>> model.fit(data, callbacks=callbacks, epochs=10)  # doctest: +SKIP
    """

    def __init__(self, sources, references, beam_size=1, every=1, max_length=100):
        super().__init__()
        # Checked here: a bad setting would otherwise surface only after an epoch of training.
        # NumPy columns (``df["de"].to_numpy()``, ``df[["en1", "en2"]].to_numpy()``) are lists
        # here, as `corpus_bleu` reads them: their str were refused as "not a list".
        if isinstance(sources, np.ndarray) and sources.ndim == 1:
            sources = sources.tolist()
        if isinstance(references, np.ndarray) and references.ndim in (1, 2):
            references = references.tolist()  # a 2-D array: a list of references per row
        if not isinstance(sources, (list, tuple)) or not all(isinstance(t, str) for t in sources):
            raise TypeError(f"`sources` must be a list of strings, got {sources!r:.100}.")
        if not isinstance(references, (list, tuple)):
            raise TypeError(
                "`references` must be a list with, per source, a str or a non-empty list of "
                f"str, got {references!r:.100}."
            )
        reference_lists(references, per="source")
        if len(sources) != len(references) or not sources:
            raise ValueError(
                "`sources` and `references` must be non-empty lists of the same length, got "
                f"{len(sources)} and {len(references)}."
            )
        numbers = {}
        for name, value in (("beam_size", beam_size), ("every", every), ("max_length", max_length)):
            # NumPy integers pass, as Python ints (`translate` checks for int).
            numbers[name] = as_int(value)
            if numbers[name] is None or numbers[name] < 1:
                raise ValueError(f"`{name}` must be an int >= 1, got {value!r}.")
        beam_size, every, max_length = (
            numbers["beam_size"],
            numbers["every"],
            numbers["max_length"],
        )
        self.sources = list(sources)
        self.references = list(references)
        self.beam_size = beam_size
        self.every = every
        self.max_length = max_length
        self.history = []

    @property
    def seconds(self):
        return sum(entry["seconds"] for entry in self.history)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        started = time.perf_counter()
        hypotheses = self.model.translate(
            self.sources, beam_size=self.beam_size, max_length=self.max_length
        )
        bleu = corpus_bleu(hypotheses, self.references).score
        chrf = corpus_chrf(hypotheses, self.references).score
        seconds = time.perf_counter() - started
        self.history.append({"epoch": epoch + 1, "bleu": bleu, "chrf": chrf, "seconds": seconds})
        if logs is not None:
            logs["val_bleu"] = bleu
            logs["val_chrf"] = chrf
        print(f"\nepoch {epoch + 1}: dev BLEU {bleu:.2f}, chrF {chrf:.2f}")
