"""Word-level tokenizer with a frequency-cut vocabulary (for tagging and classification)."""

import collections

import keras
import tensorflow as tf

from keras_seq._checked_ids import as_int
from keras_seq.text.tokenizer import Tokenizer, check_finite_corpus, string_constant


@keras.saving.register_keras_serializable(package="keras_seq")
class WordTokenizer(Tokenizer):
    """Whole words to ids through a `tf.lookup.StaticHashTable`; unseen words are ``<unk>``.

    A string is normalized (see `Tokenizer`) and split into words: runs of letters, digits and
    combining marks, and every other character on its own ("müssen." -> müssen .). Input that
    is already split (a list of tokens per sentence, as in a tagged corpus) is looked up token
    by token after normalization, so ids line up 1:1 with the tokens and their tags.

    `detokenize` joins the words with single spaces: it is lossy (the original spacing around
    punctuation is not kept and unknown words come back as ``<unk>``); use `WordPieceTokenizer`
    where text must come back exactly. Reserved tokens met in the text (a token "<s>") map to
    ``<unk>``, never to their reserved ids.

    Args:
        vocabulary: list of str, path to a one-token-per-line file, or None.
        (and the arguments of `Tokenizer`: ``sequence_length``, ``lowercase``,
        ``normalization``.)

    Call arguments:
        strings: tf.string [batch], or pre-split tokens [batch, None] (ragged, or dense
            with trailing "" as padding). A dense [batch, 1] tensor with whitespace in a cell
            is refused (ValueError; InvalidArgumentError in a graph): it is a column of whole
            texts, as ``keras.Input(shape=(1,), dtype="string")`` gives, not tokens.

    Returns:
        int32 ids [batch, sequence_length].

    Example:
    >>> tokenizer = WordTokenizer.from_corpus([["He", "had", "to", "do", "it", "."]])
    >>> tokenizer.tokenize([["He", "did", "it", "."]]).to_list()
    [[5, 3, 8, 4]]
    """

    _accepts_pre_split = True
    _detokenize_separator = " "

    @classmethod
    def from_corpus(
        cls,
        texts_or_dataset,
        min_count=1,
        max_vocabulary_size=None,
        lowercase=False,
        normalization="NFKC",
        **kwargs,
    ):
        """Counts the words of a corpus and keeps the frequent ones.

        Words are sorted by decreasing count, ties alphabetically (so the result does not depend
        on the corpus order); those seen fewer than ``min_count`` times are dropped, then the
        list is cut so that the vocabulary, reserved tokens included, has at most
        ``max_vocabulary_size`` entries.

        Args:
            texts_or_dataset: list of str, list of token lists, or a finite tf.data.Dataset
                of tf.string texts (scalars) or token lists ([None] vectors); an infinite one
                (``.repeat()``) raises ValueError, and so do [None] vectors with whitespace in
                a token (a batched dataset of texts: unbatch it).
            min_count: int. Minimum frequency of a kept word.
            max_vocabulary_size: int or None. Maximum size, reserved tokens included.
            lowercase, normalization: as in `Tokenizer`.
            **kwargs: other constructor arguments (``sequence_length``, ``name``).

        Returns:
            A `WordTokenizer`.
        """
        # NumPy integers (``counts.max()``) pass, as Python ints.
        given = min_count
        min_count = as_int(min_count)
        if min_count is None or min_count < 1:
            raise ValueError(f"`min_count` must be an int >= 1, got {given!r}.")
        given = max_vocabulary_size
        if max_vocabulary_size is not None:
            max_vocabulary_size = as_int(max_vocabulary_size)
            if max_vocabulary_size is None or max_vocabulary_size < len(cls.RESERVED_TOKENS):
                raise ValueError(
                    "`max_vocabulary_size` must be None or an int >= "
                    f"{len(cls.RESERVED_TOKENS)}, got {given!r}."
                )
        splitter = cls(lowercase=lowercase, normalization=normalization)
        counts = collections.Counter()
        for words in _word_batches(texts_or_dataset, splitter):
            counts.update(words.numpy())
        reserved = set(cls.RESERVED_TOKENS)
        ranked = sorted(
            ((word.decode("utf-8"), count) for word, count in counts.items()),
            key=lambda item: (-item[1], item[0]),
        )
        words = [
            word for word, count in ranked if count >= min_count and word and word not in reserved
        ]
        if max_vocabulary_size is not None:
            words = words[: max_vocabulary_size - len(cls.RESERVED_TOKENS)]
        tokenizer = cls(vocabulary=None, lowercase=lowercase, normalization=normalization, **kwargs)
        tokenizer._set_vocabulary(list(cls.RESERVED_TOKENS) + words, learned=True)
        return tokenizer

    def _build_lookup(self, vocabulary):
        words = vocabulary[len(self.RESERVED_TOKENS) :]
        if not words:
            # A hash table cannot be empty; with no word every token is unknown.
            self._table = None
            return
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                string_constant(words),
                tf.range(len(self.RESERVED_TOKENS), len(vocabulary), dtype=tf.int32),
            ),
            default_value=self.UNKNOWN_ID,
        )

    def _strings_to_ids(self, strings):
        words, _ = self._split_words(strings)
        return self._tokens_to_ids(words)

    def _tokens_to_ids(self, tokens):
        if self._table is None:
            unknown = tf.fill(tf.shape(tokens.flat_values), self.UNKNOWN_ID)
            return tokens.with_flat_values(unknown)
        return tokens.with_flat_values(self._table.lookup(tokens.flat_values))


def _word_batches(texts_or_dataset, splitter):
    """Yields the normalized words of the corpus, batch by batch, as tf.string [words]."""
    if isinstance(texts_or_dataset, tf.data.Dataset):
        spec = texts_or_dataset.element_spec
        # Rows sliced from a RaggedTensor are token lists; dense vectors may be a batched
        # dataset of texts, checked below.
        sliced_rows = isinstance(spec, tf.RaggedTensorSpec)
        if isinstance(spec, tf.RaggedTensorSpec) and spec.ragged_rank == 0:
            # Rows sliced from a RaggedTensor: an identity map makes them dense vectors.
            texts_or_dataset = texts_or_dataset.map(lambda row: row)
            spec = texts_or_dataset.element_spec
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
            raise TypeError(
                f"`texts_or_dataset` must yield tf.string tensors, got element_spec {spec}."
            )
        check_finite_corpus(texts_or_dataset)
        dataset = texts_or_dataset
        if spec.shape.rank == 0:
            dataset = dataset.batch(1024)
        elif spec.shape.rank == 1:
            dataset = dataset.ragged_batch(1024)
        else:
            raise ValueError(
                "`texts_or_dataset` must yield texts (rank 0) or token lists (rank 1), got "
                f"shape {spec.shape}."
            )
        for batch in dataset:
            if isinstance(batch, tf.RaggedTensor) and not sliced_rows:
                _refuse_batched_texts(batch.flat_values)
            yield _normalized_words(splitter, batch)
        return
    if isinstance(texts_or_dataset, (str, bytes)):
        # A bare string would iterate character by character: a vocabulary of letters.
        raise TypeError(
            "`texts_or_dataset` must be a list of texts (or token lists) or a tf.data.Dataset, "
            "got a single string; wrap it in a list."
        )
    rows = list(texts_or_dataset)
    for start in range(0, len(rows), 1024):
        yield _normalized_words(splitter, splitter._standardize_strings(rows[start : start + 1024]))


def _refuse_batched_texts(tokens):
    """ValueError when a token of a dataset of [None] vectors holds whitespace: the word split
    never makes such a token, so the dataset is a batched one of texts (`.batch()` on texts,
    `text_dataset_from_directory`), whose every text would otherwise count as one word."""
    if bool(tf.reduce_any(tf.strings.regex_full_match(tokens, r"(?s).*[\s\p{Z}].*"))):
        raise ValueError(
            "`texts_or_dataset` yields string vectors whose tokens hold whitespace: a batched "
            "dataset of texts, each of which would count as one word. Pass it unbatched "
            "(`dataset.unbatch()`), or token lists without whitespace (a list of lists keeps "
            "such tokens)."
        )


def _normalized_words(splitter, batch):
    if isinstance(batch, tf.RaggedTensor):
        return splitter.normalize(batch.flat_values)
    words, _ = splitter._split_words(splitter.normalize(batch))
    return words.flat_values
