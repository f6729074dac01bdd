"""WordPiece subword tokenizer with explicit spaces and a byte fallback (lossless)."""

import collections
import collections.abc

import keras
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib

from keras_seq._checked_ids import as_int
from keras_seq.text.tokenizer import Tokenizer, check_finite_corpus, string_constant

_SUFFIX_INDICATOR = "##"
_MAX_INT32 = 2**31 - 1
# The UTF-8 length of the marker "▁" that a word after a space carries into
# FastWordpieceTokenizer: its bound is raised by as much, so that ``max_bytes_per_word``
# bounds the word's own bytes wherever the word stands.
_MARKER_BYTES = len("▁".encode())


@keras.saving.register_keras_serializable(package="keras_seq")
class WordPieceTokenizer(Tokenizer):
    """WordPiece subwords that give back the normalized text exactly.

    The normalized text (see `Tokenizer`) is split into words: runs of letters, digits and
    combining marks, and every other character on its own. A word that follows a space carries
    the marker ``"▁"`` (U+2581) in front, so spacing is kept::

        "He had to do it."  ->  He ▁had ▁to ▁do ▁it .

    Each word is cut into vocabulary pieces by `tf_text.FastWordpieceTokenizer` (longest match
    first, continuation pieces prefixed with ``"##"``). A word that the vocabulary cannot
    cover (a character never seen in training, a word longer than ``max_bytes_per_word``, or
    the character "▁" itself) falls back to its UTF-8 bytes, ids of the tokens ``<0x00>`` …
    ``<0xFF>`` (after ``"▁"`` when the word follows a space). `detokenize` concatenates the
    pieces without their ``"##"``, turns a leading ``"▁"`` into a space and bytes into bytes,
    so for every string ``s``::

        detokenize(tokenize(s)) == normalize(s)

    ``<unk>`` is never produced. The vocabulary starts with the four reserved tokens, then
    ``"▁"`` and the 256 byte tokens (`SPECIAL_TOKENS`), then the learned pieces.

    Args:
        vocabulary: list of str, a path to a one-token-per-line file, or None. Must start with
            the reserved tokens and hold ``"▁"`` and every byte token; no token may hold a NUL
            character (NUL is always written as ``<0x00>``).
        max_bytes_per_word: int. Longer words fall back to bytes. The bound counts the
            word's own UTF-8 bytes, not the marker ``"▁"`` of a word after a space, so a word
            is cut alike wherever it stands. Any int >= 1 (``sys.maxsize``: no limit;
            `FastWordpieceTokenizer` gets at most 2**31 - 1).
        (and the arguments of `Tokenizer`: ``sequence_length``, ``lowercase``,
        ``normalization``.)

    Call arguments:
        strings: tf.string [batch].

    Returns:
        int32 ids [batch, sequence_length].

    Example:
    >>> tokenizer = WordPieceTokenizer.from_corpus(["He had to do it."], vocabulary_size=300)
    >>> ids = tokenizer.tokenize(["He had to do it!"], add_end=True)
    >>> tokenizer.detokenize(ids).numpy()
    array([b'He had to do it!'], dtype=object)
    """

    SPACE_MARKER = "▁"
    BYTE_TOKENS = tuple(f"<0x{value:02X}>" for value in range(256))
    SPECIAL_TOKENS = Tokenizer.RESERVED_TOKENS + (SPACE_MARKER,) + BYTE_TOKENS

    def __init__(self, vocabulary=None, max_bytes_per_word=100, **kwargs):
        given = max_bytes_per_word
        max_bytes_per_word = as_int(max_bytes_per_word)  # NumPy integers pass, as an int
        if max_bytes_per_word is None:
            raise TypeError(f"`max_bytes_per_word` must be an int, got {given!r}.")
        if max_bytes_per_word < 1:
            raise ValueError(f"`max_bytes_per_word` must be >= 1, got {max_bytes_per_word}.")
        self.max_bytes_per_word = max_bytes_per_word
        super().__init__(vocabulary=vocabulary, **kwargs)

    @classmethod
    def from_corpus(
        cls,
        texts_or_dataset,
        vocabulary_size,
        lowercase=False,
        normalization="NFKC",
        max_bytes_per_word=100,
        learn_params=None,
        **kwargs,
    ):
        """Learns a vocabulary with the tensorflow-text WordPiece learner.

        Words are counted after the same normalization and split as `tokenize` uses, then
        `wordpiece_tokenizer_learner_lib.learn` picks the pieces (the learner behind
        `bert_vocab_from_dataset`, fed our words so that the vocabulary matches our split).
        The learner is pure Python and binary-searches a frequency threshold: about 45 s for
        6,000 sentences and 2,000 pieces on one CPU core; learn from a sample of a large corpus.

        Args:
            texts_or_dataset: list (or any iterable, a generator included) of str, or a
                finite tf.data.Dataset of tf.string scalars or [batch]; an infinite one
                (``.repeat()``) raises ValueError.
            vocabulary_size: int. Upper bound of the final size, special tokens included
                (at least ``len(SPECIAL_TOKENS)`` = 261); the learner lands up to 5 % below.
            lowercase, normalization: as in `Tokenizer`.
            max_bytes_per_word: int. As in the constructor; longer words are not counted, nor
                are words holding a NUL character (they always fall back to bytes).
            learn_params: dict or None. Extra arguments of the learner (``num_iterations``,
                ``max_unique_chars``, ``max_token_length``, ``slack_ratio``, ...). By default
                ``lower_thresh=1`` (a piece seen once may be kept: small corpora work).
            **kwargs: other constructor arguments (``sequence_length``, ``name``).

        Returns:
            A `WordPieceTokenizer`.
        """
        special = len(cls.SPECIAL_TOKENS)
        given = vocabulary_size
        vocabulary_size = as_int(vocabulary_size)  # NumPy integers pass, as an int
        if vocabulary_size is None:
            raise TypeError(f"`vocabulary_size` must be an int, got {given!r}.")
        if vocabulary_size < special:
            raise ValueError(
                f"`vocabulary_size` must be >= {special} (reserved, space and byte tokens), "
                f"got {vocabulary_size}."
            )
        if learn_params is not None and not isinstance(learn_params, collections.abc.Mapping):
            raise TypeError(
                "`learn_params` must be a dict of learner arguments or None, got "
                f"{learn_params!r:.100}."
            )
        splitter = cls(
            lowercase=lowercase,
            normalization=normalization,
            max_bytes_per_word=max_bytes_per_word,
        )
        counts = collections.Counter()
        marked_words = tf.autograph.experimental.do_not_convert(splitter._marked_words)
        for words in _batched_strings(texts_or_dataset).map(marked_words):
            counts.update(words.flat_values.numpy())
        excluded = {splitter.SPACE_MARKER, splitter.SPACE_MARKER * 2}
        # A NUL cannot be stored in FastWordpieceTokenizer's trie: NUL words stay byte tokens.
        word_counts = {
            word: count
            for word, count in ((w.decode("utf-8"), c) for w, c in counts.items())
            if word not in excluded
            and "\x00" not in word
            and len(word.removeprefix(cls.SPACE_MARKER).encode("utf-8")) <= max_bytes_per_word
        }
        vocabulary = list(cls.SPECIAL_TOKENS)
        if word_counts:
            params = {"lower_thresh": 1, **(learn_params or {})}
            for fixed in ("vocab_size", "reserved_tokens", "include_joiner_token", "joiner"):
                if fixed in params:
                    raise ValueError(f"`learn_params` cannot set {fixed!r}; it is fixed here.")
            learned = wordpiece_tokenizer_learner_lib.learn(
                word_counts,
                vocab_size=vocabulary_size,
                reserved_tokens=list(cls.SPECIAL_TOKENS),
                include_joiner_token=True,
                joiner=_SUFFIX_INDICATOR,
                **params,
            )
            # The learner prunes rare "##c" pieces, so a word of known characters could fall
            # back to bytes, and rare "▁c" word starts, so a word after a space could split
            # into a lone "▁" and continuations. Every kept character first gets its two
            # coverage forms "c" and "##c" (most frequent first), then its word-start form
            # "▁c" (same order). Coverage comes before word starts, so a small vocabulary
            # never trades a character for a byte fallback.
            characters = collections.Counter()
            for word, count in word_counts.items():
                for character in word.removeprefix(cls.SPACE_MARKER):
                    characters[character] += count
            ranked = sorted(characters.items(), key=lambda item: (-item[1], item[0]))
            kept = [character for character, _ in ranked[: params.get("max_unique_chars", 1000)]]
            pieces = [piece for c in kept for piece in (c, _SUFFIX_INDICATOR + c)]
            pieces += [cls.SPACE_MARKER + c for c in kept]
            seen = set(vocabulary)
            for piece in pieces:
                if piece not in seen and len(vocabulary) < vocabulary_size:
                    seen.add(piece)
                    vocabulary.append(piece)
            # The learned pieces fill the rest, those the tokenizer uses most on the corpus
            # first. The coverage forms above can push the learner's total past
            # ``vocabulary_size``, and its own ranking (its internal counts, which subtract
            # the counts of longer pieces, ties alphabetical: "▁" words last) is a poor guide
            # to what to cut: cutting its list dropped "▁until" and "▁wait" from the Ding
            # vocabularies while rare fragments stayed.
            learned = [piece for piece in learned if piece not in seen]
            # The learner treats the word-start marker as a letter and may offer "##▁". No
            # word holds it after its start (a literal "▁" in the text is a word of its own,
            # as punctuation is, and goes to bytes), so such a piece would waste a slot.
            learned = [piece for piece in learned if cls.SPACE_MARKER not in piece[1:]]
            room = vocabulary_size - len(vocabulary)
            if len(learned) > room:
                usage = _piece_usage(word_counts, seen | set(learned))
                order = {piece: index for index, piece in enumerate(learned)}
                learned = sorted(learned, key=lambda piece: (-usage[piece], order[piece]))
            vocabulary += learned[:room]
        tokenizer = cls(
            vocabulary=None,
            lowercase=lowercase,
            normalization=normalization,
            max_bytes_per_word=max_bytes_per_word,
            **kwargs,
        )
        tokenizer._set_vocabulary(vocabulary, learned=True)
        return tokenizer

    def get_config(self):
        config = super().get_config()
        config["max_bytes_per_word"] = self.max_bytes_per_word
        return config

    # -------------------------------------------------------------------------------- hooks
    def _check_vocabulary(self, vocabulary):
        missing = [token for token in self.SPECIAL_TOKENS[4:] if token not in vocabulary]
        if missing:
            raise ValueError(
                f"`vocabulary` must hold {self.SPACE_MARKER!r} and the 256 byte tokens "
                f"'<0x00>' … '<0xFF>'; missing {missing[:5]}{' …' if len(missing) > 5 else ''}."
            )
        with_nul = [token for token in vocabulary if "\x00" in token]
        if with_nul:
            raise ValueError(
                "`vocabulary` tokens must not hold a NUL character (FastWordpieceTokenizer "
                f"cannot store it; NUL is the byte token '<0x00>'), got {with_nul[0]!r}."
            )

    def _build_lookup(self, vocabulary):
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=vocabulary,
            suffix_indicator=_SUFFIX_INDICATOR,
            # The builder takes an int32: a larger bound (sys.maxsize for "no limit") was a
            # pybind TypeError; no word of a tf.string is longer. The marker's bytes are
            # added (`_strings_to_ids` bounds an unmarked word itself): counted against the
            # bound, they sent a 33-character CJK word to 100 byte ids after a space but not
            # at the start, and with a bound of 3 every word after a space to bytes.
            max_bytes_per_word=self._word_byte_limit() + _MARKER_BYTES,
            token_out_type=tf.int32,
            unknown_token=self.UNKNOWN_TOKEN,
            no_pretokenization=True,
        )
        self._space_id = vocabulary.index(self.SPACE_MARKER)
        self._byte_ids = [vocabulary.index(token) for token in self.BYTE_TOKENS]

    def _detokenized_pieces(self):
        byte_ids = {index: value for value, index in enumerate(self._byte_ids)}
        pieces = []
        for index, token in enumerate(self._vocabulary):
            if index in byte_ids:
                pieces.append(bytes([byte_ids[index]]))
                continue
            if token.startswith(_SUFFIX_INDICATOR) and len(token) > len(_SUFFIX_INDICATOR):
                token = token[len(_SUFFIX_INDICATOR) :]
            elif token.startswith(self.SPACE_MARKER):
                token = " " + token[1:]
            pieces.append(token.encode("utf-8"))
        return pieces

    def _word_byte_limit(self):
        """``max_bytes_per_word``, capped so that it plus the marker's bytes is an int32."""
        return min(self.max_bytes_per_word, _MAX_INT32 - _MARKER_BYTES)

    def _token_text(self, token):
        if token.startswith(_SUFFIX_INDICATOR) and len(token) > len(_SUFFIX_INDICATOR):
            return token[len(_SUFFIX_INDICATOR) :]
        return token.removeprefix(self.SPACE_MARKER)

    def _marked_words(self, strings):
        words, space_before = self._split_words(self.normalize(strings))
        flat_words = words.flat_values
        return words.with_flat_values(
            tf.where(space_before.flat_values, self.SPACE_MARKER + flat_words, flat_words)
        )

    def _strings_to_ids(self, strings):
        words, space_before = self._split_words(strings)
        flat_words = words.flat_values
        flat_space = space_before.flat_values
        marked = tf.where(flat_space, self.SPACE_MARKER + flat_words, flat_words)
        pieces = self._wordpiece.tokenize(marked)  # [words, pieces]
        fallback = (
            tf.math.unsorted_segment_max(
                tf.cast(tf.equal(pieces.flat_values, self.UNKNOWN_ID), tf.int32),
                pieces.value_rowids(),
                num_segments=tf.size(flat_words, out_type=tf.int64),
            )
            > 0
        )
        # FastWordpieceTokenizer's bound leaves room for the marker: an unmarked word of up
        # to `_MARKER_BYTES` bytes over `max_bytes_per_word` is sent to bytes here.
        fallback = (
            fallback
            | tf.equal(flat_words, self.SPACE_MARKER)
            | (tf.strings.length(flat_words) > self._word_byte_limit())
        )
        # Byte fallback of a word: "▁" if a space came before it, then one id per UTF-8 byte.
        characters = tf.strings.bytes_split(flat_words)
        byte_values = tf.reshape(tf.io.decode_raw(characters.flat_values, tf.uint8), [-1])
        byte_ids = tf.gather(tf.constant(self._byte_ids, tf.int32), tf.cast(byte_values, tf.int32))
        # Every id with the index of its word; kept ids are sorted by word with a stable sort, so
        # within a word the order is the pieces' (or marker, then bytes).
        word_index = tf.range(tf.size(flat_words, out_type=tf.int64))
        parts = [
            (pieces.flat_values, pieces.value_rowids()),
            (tf.fill(tf.shape(word_index), self._space_id), word_index),
            (byte_ids, characters.value_rowids()),
        ]
        keeps = [
            ~tf.gather(fallback, parts[0][1]),
            fallback & flat_space,
            tf.gather(fallback, parts[2][1]),
        ]
        values = tf.concat(
            [tf.boolean_mask(ids, keep) for (ids, _), keep in zip(parts, keeps, strict=True)],
            axis=0,
        )
        owners = tf.concat(
            [tf.boolean_mask(owner, keep) for (_, owner), keep in zip(parts, keeps, strict=True)],
            axis=0,
        )
        order = tf.argsort(owners, stable=True)
        sentences = tf.gather(words.value_rowids(), tf.gather(owners, order))
        return tf.RaggedTensor.from_value_rowids(
            tf.gather(values, order), sentences, nrows=words.nrows(), validate=False
        )


def _piece_usage(word_counts, vocabulary):
    """How often each piece of ``vocabulary`` is used when the counted words are cut as
    `tf_text.FastWordpieceTokenizer` cuts them (longest match first, continuations with
    ``"##"``; a word that cannot be covered uses no piece: it falls back to bytes)."""
    longest = max(len(piece) for piece in vocabulary)
    usage = collections.Counter()
    for word, count in word_counts.items():
        pieces, start = [], 0
        while start < len(word):
            prefix = _SUFFIX_INDICATOR if start else ""
            for end in range(min(len(word), start + longest), start, -1):
                piece = prefix + word[start:end]
                if piece in vocabulary:
                    pieces.append(piece)
                    start = end
                    break
            else:
                pieces = []
                break
        for piece in pieces:
            usage[piece] += count
    return usage


def _batched_strings(texts_or_dataset, batch_size=1024):
    """A dataset of tf.string [batch] from a list of str or a dataset of strings."""
    if isinstance(texts_or_dataset, tf.data.Dataset):
        spec = texts_or_dataset.element_spec
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
            raise TypeError(
                f"`texts_or_dataset` must yield tf.string tensors, got element_spec {spec}."
            )
        check_finite_corpus(texts_or_dataset)
        if spec.shape.rank == 0:
            return texts_or_dataset.batch(batch_size)
        if spec.shape.rank == 1:
            return texts_or_dataset
        raise ValueError(
            f"`texts_or_dataset` must yield strings of rank 0 or 1, got shape {spec.shape}."
        )
    if isinstance(texts_or_dataset, (str, bytes)) or not hasattr(texts_or_dataset, "__iter__"):
        raise TypeError("`texts_or_dataset` must be a list of str or a tf.data.Dataset.")
    # Read once: checking the items of a generator first would leave nothing to learn from.
    texts = list(texts_or_dataset)
    if not all(isinstance(text, (str, bytes)) for text in texts):
        raise TypeError("`texts_or_dataset` must be a list of str or a tf.data.Dataset.")
    return tf.data.Dataset.from_tensor_slices(string_constant(texts)).batch(batch_size)
