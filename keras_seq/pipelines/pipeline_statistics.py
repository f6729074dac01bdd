"""Counts of what a pipeline kept and dropped."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class PipelineStatistics:
    """What a pipeline function kept of its corpus, counted once when the pipeline is built.

    Args:
        num_examples: int. Examples in the corpus.
        num_kept: int. Examples that the dataset yields.
        num_dropped: int. Examples dropped (``num_examples - num_kept``): the empty ones and
            those over the pipeline's length limit (``num_dropped - num_empty``).
        num_empty: int. Examples dropped because a text of theirs has no ids (an empty or
            whitespace-only text, for the word and word-piece tokenizers): a batch of them
            would have zero time steps. Counted as empty even if also too long.

    Example:
    >>> tokenizer = WordTokenizer.from_corpus(["Gut .", "Sehr gut ."])
    >>> examples = [("Gut .", 1), ("Sehr gut .", 1), (" ", 0)]
    >>> dataset, statistics = classification_dataset(examples, tokenizer, batch_size=2)
    >>> statistics
    PipelineStatistics(num_examples=3, num_kept=2, num_dropped=1, num_empty=1)
    """

    num_examples: int
    num_kept: int
    num_dropped: int
    num_empty: int = 0
