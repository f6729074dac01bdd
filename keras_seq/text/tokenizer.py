"""Base class of the in-graph tokenizers: reserved ids, normalization, padding, assets."""

import functools
import numbers
import os
import unicodedata
import warnings

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from keras_seq._checked_ids import as_int, check_bool

# Every character Python's `str.isspace` accepts, so that the in-graph collapse equals
# `" ".join(s.split())`. RE2's `\s` alone is ASCII-only.
_WHITESPACE = (
    r"[\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}]+"
)
# A word is a run of letters, digits and combining marks; every other character (punctuation,
# symbols, emoji, controls) is a word of its own, taken with the space before it.
_SINGLE_CHARACTER_WORD = r" ?[^\p{L}\p{N}\p{M}\t ]"
_NORMALIZATION_FORMS = ("NFC", "NFKC", "NFD", "NFKD")


@keras.saving.register_keras_serializable(package="keras_seq")
class Tokenizer(keras.layers.Layer):
    """Base of the string ↔ id layers: reserved ids, normalization, padding, assets.

    Every tokenizer of this package runs on stock TensorFlow and tensorflow-text ops only, so a
    model that contains one exports with `keras.export.ExportArchive` and runs under TF Serving.
    The first four ids are fixed::

        0 <pad>   1 <s>   2 </s>   3 <unk>

    Text is normalized in the graph, in this order (`normalize`):

    1. invalid UTF-8 byte sequences are replaced with U+FFFD (never an error);
    2. lower-casing with `tf.strings.lower(encoding="utf-8")` when ``lowercase`` (a per-code
       point mapping, so "ß" stays "ß"; NUL characters and the text after them are kept);
    3. Unicode normalization (``normalization``: "NFKC" by default, or "NFC", "NFD", "NFKD",
       or None for none);
    4. every run of whitespace (any character for which Python's `str.isspace` holds) becomes
       one space, and leading and trailing whitespace is stripped: the result equals Python's
       ``" ".join(s.split())``.

    Subclasses provide the vocabulary and the mapping of normalized strings to ids.

    Args:
        vocabulary: list of str, a path to a text file with one token per line, or None (to be
            set later by `set_vocabulary` or by loading assets). Its first four entries must be
            the reserved tokens.
        sequence_length: int or None. Length of the dense output of `call`; None pads each batch
            to its longest sequence.
        lowercase: bool. Lower-case the text before normalization.
        normalization: str or None. Unicode normalization form.

    Call arguments:
        strings: tf.string tensor [batch].

    Returns:
        int32 ids [batch, sequence_length], padded with 0.

    Example:
    >>> tokenizer = WordTokenizer.from_corpus(["He had to do it."])
    >>> tokenizer.detokenize(tokenizer(["He had to do it."]))
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'He had to do it .'], dtype=object)>
    """

    PAD_ID = 0
    START_ID = 1
    END_ID = 2
    UNKNOWN_ID = 3
    PAD_TOKEN = "<pad>"
    START_TOKEN = "<s>"
    END_TOKEN = "</s>"
    UNKNOWN_TOKEN = "<unk>"
    RESERVED_TOKENS = (PAD_TOKEN, START_TOKEN, END_TOKEN, UNKNOWN_TOKEN)
    VOCABULARY_ASSET = "vocabulary.txt"
    # Whether `tokenize` also takes pre-split tokens [batch, None] (ragged) besides [batch].
    _accepts_pre_split = False
    # What `detokenize` puts between pieces.
    _detokenize_separator = ""

    def __init__(
        self,
        vocabulary=None,
        sequence_length=None,
        lowercase=False,
        normalization="NFKC",
        **kwargs,
    ):
        kwargs.setdefault("dtype", "int32")
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        given = sequence_length
        if sequence_length is not None:
            # NumPy integers (``lengths.max()``) pass, kept as a Python int (JSON config).
            sequence_length = as_int(sequence_length)
            if sequence_length is None or sequence_length < 1:
                raise ValueError(
                    f"`sequence_length` must be a positive int or None, got {given!r}."
                )
        if normalization is not None and normalization not in _NORMALIZATION_FORMS:
            raise ValueError(
                f"`normalization` must be one of {_NORMALIZATION_FORMS} or None, "
                f"got {normalization!r}."
            )
        lowercase = check_bool(lowercase, "lowercase")  # a NumPy bool passes, as a bool
        self.sequence_length = sequence_length
        self.lowercase = lowercase
        self.normalization = normalization
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False
        # No weights: built from the start, so `ExportArchive.track` takes an unused tokenizer.
        self.built = True
        self._vocabulary = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ----------------------------------------------------------------------------- vocabulary
    @property
    def vocabulary(self):
        """The vocabulary as a list of str (a copy); ids are positions in it."""
        self._check_vocabulary_set()
        return list(self._vocabulary)

    @property
    def vocabulary_size(self):
        """Number of ids, reserved ones included."""
        self._check_vocabulary_set()
        return len(self._vocabulary)

    def set_vocabulary(self, vocabulary):
        """Sets the vocabulary (list of str or path to a one-token-per-line file)."""
        self._set_vocabulary(vocabulary)

    def _set_vocabulary(self, vocabulary, learned=False):
        """`set_vocabulary`; ``learned``: the vocabulary comes from `from_corpus`, made of
        normalized text, so the warnings about tokens that normalized input cannot match (meant
        for hand-written vocabularies) are skipped: they would be false. Lowering leaves "𝐇"
        and "ℝ", which NFKC then makes "H" and "R", so a corpus holding them gives upper-case
        tokens that its own normalized words match."""
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = _read_vocabulary_file(vocabulary)
        if not isinstance(vocabulary, (list, tuple)) or not all(
            isinstance(token, str) for token in vocabulary
        ):
            raise TypeError(
                "`vocabulary` must be a list of str or a path to a vocabulary file, got "
                f"{type(vocabulary).__name__}."
            )
        vocabulary = list(vocabulary)
        if tuple(vocabulary[:4]) != self.RESERVED_TOKENS:
            raise ValueError(
                f"`vocabulary` must start with the reserved tokens {list(self.RESERVED_TOKENS)}, "
                f"got {vocabulary[:4]}."
            )
        seen = set()
        for token in vocabulary:
            if token in seen:
                raise ValueError(f"`vocabulary` holds the token {token!r} twice.")
            if token == "" or "\n" in token:
                raise ValueError(f"`vocabulary` tokens must be non-empty lines, got {token!r}.")
            try:
                token.encode("utf-8")
            except UnicodeEncodeError as error:
                raise ValueError(
                    f"`vocabulary` tokens must be valid Unicode, got {token!r} (a surrogate "
                    "code point has no UTF-8 form)."
                ) from error
            seen.add(token)
        self._check_vocabulary(vocabulary)
        if not learned:
            self._check_lowercase(vocabulary)
            self._check_normal_form(vocabulary)
        object.__setattr__(self, "_compiled_functions", {})
        self._vocabulary = vocabulary
        self._token_to_id = {token: index for index, token in enumerate(vocabulary)}
        self._build_lookup(vocabulary)

    def _check_lowercase(self, vocabulary):
        # With `lowercase`, input is lowered before lookup: a token with an upper-case letter
        # is almost always a mistake (its words read as <unk>). A warning, not an error: NFKC
        # after lowering can still make a few of them ("ℝ" -> "R").
        if not self.lowercase:
            return
        special = set(getattr(self, "SPECIAL_TOKENS", self.RESERVED_TOKENS))
        tokens = [token for token in vocabulary if token not in special]
        if not tokens:
            return
        with tf.init_scope():
            lowered = _lower_utf8(string_constant(tokens)).numpy()
        cased = [t for t, low in zip(tokens, lowered, strict=True) if low != t.encode("utf-8")]
        if cased and self.normalization in ("NFKC", "NFKD"):
            # Upper case that the compatibility form makes of one character after lowering
            # ("™" -> "TM", "㎒" -> "MHz") is matched: a learned "xg3TM" is not a mistake.
            fragments = _compatibility_capitals(self.normalization)
            cased = [t for t in cased if not _only_compatibility_capitals(t, fragments)]
        if cased:
            warnings.warn(
                f"`vocabulary` holds {len(cased)} token(s) with upper-case letters, such as "
                f"{cased[:5]}, which `lowercase=True` input does not match (their words "
                "read as <unk>); lowercase the vocabulary or set `lowercase=False`.",
                UserWarning,
                stacklevel=3,
            )

    def _check_normal_form(self, vocabulary):
        # Input is normalized before lookup, so a token that the normalization (lower-casing
        # aside: `_check_lowercase`) changes is matched by nothing: a token in NFD (a macOS
        # file) or holding "ﬁ" under NFKC, one with a trailing space. A warning, as above.
        special = set(getattr(self, "SPECIAL_TOKENS", self.RESERVED_TOKENS))
        tokens = [token for token in vocabulary if token not in special]
        if not tokens:
            return
        texts = [self._token_text(token) for token in tokens]
        with tf.init_scope():
            normalized = self._normal_form(string_constant(texts)).numpy()
        changed = [
            token
            for token, text, normal in zip(tokens, texts, normalized, strict=True)
            if normal != text.encode("utf-8")
        ]
        if changed:
            warnings.warn(
                f"`vocabulary` holds {len(changed)} token(s) that the normalization changes "
                f"(normalization={self.normalization!r}, then whitespace runs to one space, "
                f"stripped), such as {changed[:5]}: normalized input never matches them (their "
                "words read as <unk> or fall back to bytes); normalize the vocabulary as "
                "`normalize` does.",
                UserWarning,
                stacklevel=3,
            )

    def _token_text(self, token):
        """The text a vocabulary token stands for in normalized input (WordPiece: without its
        "##" or "▁" prefix)."""
        return token

    def id_to_token(self, id):
        """The token of ``id`` (a Python or NumPy integer, e.g. an element of ``ids.numpy()``)."""
        self._check_vocabulary_set()
        if (
            isinstance(id, bool)
            or not isinstance(id, numbers.Integral)
            or not 0 <= id < len(self._vocabulary)
        ):
            raise ValueError(f"`id` must be an int in [0, {len(self._vocabulary)}), got {id!r}.")
        return self._vocabulary[int(id)]

    def token_to_id(self, token):
        """The id of ``token`` (a str that must be in the vocabulary)."""
        self._check_vocabulary_set()
        if not isinstance(token, str):
            raise TypeError(f"`token` must be a str, got {type(token).__name__}.")
        if token not in self._token_to_id:
            raise ValueError(f"`token` {token!r} is not in the vocabulary.")
        return self._token_to_id[token]

    # --------------------------------------------------------------------------- string -> ids
    def normalize(self, strings):
        """Applies the declared normalization (see the class docstring) to a string tensor.

        A list (or tuple) of str is converted as `tokenize` converts it: a lone surrogate,
        which has no UTF-8 form, becomes U+FFFD (`tf.constant` refuses such a string).
        """
        if isinstance(strings, (list, tuple)) and all(
            isinstance(value, (str, bytes)) for value in strings
        ):
            strings = string_constant(strings)
        strings = tf.strings.unicode_transcode(
            strings,
            input_encoding="UTF-8",
            output_encoding="UTF-8",
            errors="replace",
            replacement_char=0xFFFD,
        )
        if self.lowercase:
            strings = _lower_utf8(strings)
        return self._normal_form(strings)

    def _normal_form(self, strings):
        """Steps 3 and 4 of `normalize`: the Unicode form, then the whitespace."""
        if self.normalization is not None:
            strings = tf_text.normalize_utf8(strings, self.normalization)
        strings = tf.strings.regex_replace(strings, _WHITESPACE, " ")
        return tf.strings.regex_replace(strings, "^ | $", "")

    def tokenize(self, strings, add_start=False, add_end=False, sequence_length=None):
        """Maps strings to ids.

        Args:
            strings: tf.string tensor (or list of str) [batch]; `WordTokenizer` also takes
                pre-split tokens [batch, None] (ragged, or a list of lists or NumPy vectors
                of str) or a dense [batch, tokens] tensor, whose trailing "" entries are
                padding.
            add_start: bool (a NumPy bool too; anything else, "False" included, is a
                TypeError). Put `<s>` (id 1) first.
            add_end: bool. Put `</s>` (id 2) last; truncation keeps it.
            sequence_length: int (a NumPy integer too) or None. None: ragged output; else
                dense [batch, sequence_length], truncated and padded with 0.

        Returns:
            int32 ids: tf.RaggedTensor [batch, None] or tf.Tensor [batch, sequence_length].
        """
        self._check_vocabulary_set()
        # A str flag read as its truth value: `add_start="False"` put `<s>` first (and, with a
        # `sequence_length`, failed with "invalid literal for int()"). A NumPy bool passes, as
        # a bool: as it was, the traced function got it as a tensor and failed ("int()
        # argument must be ... not 'SymbolicTensor'").
        add_start = check_bool(add_start, "add_start")
        add_end = check_bool(add_end, "add_end")
        given = sequence_length
        if sequence_length is not None:
            sequence_length = as_int(sequence_length)  # NumPy integers pass, as an int
            if sequence_length is None or sequence_length < max(1, int(add_start) + int(add_end)):
                raise ValueError(
                    "`sequence_length` must be None or an int >= max(1, add_start + add_end), "
                    f"got {given!r}."
                )
        strings = self._standardize_strings(strings)
        pre_split = isinstance(strings, tf.RaggedTensor)
        return self._compiled(
            ("tokenize", pre_split, add_start, add_end, sequence_length),
            functools.partial(
                self._tokenize_graph,
                add_start=add_start,
                add_end=add_end,
                sequence_length=sequence_length,
            ),
            strings,
        )

    def _tokenize_graph(self, strings, add_start, add_end, sequence_length):
        if isinstance(strings, tf.RaggedTensor):
            ids = self._tokens_to_ids(strings.with_flat_values(self.normalize(strings.flat_values)))
        else:
            ids = self._strings_to_ids(self.normalize(strings))
        if sequence_length is not None:
            ids = ids[:, : sequence_length - int(add_start) - int(add_end)]
        batch = ids.nrows()
        if add_start:
            ids = tf.concat([tf.fill([batch, 1], self.START_ID), ids], axis=1)
        if add_end:
            ids = tf.concat([ids, tf.fill([batch, 1], self.END_ID)], axis=1)
        if sequence_length is None:
            return ids
        return ids.to_tensor(default_value=self.PAD_ID, shape=[None, sequence_length])

    def call(self, strings):
        ids = self.tokenize(strings, sequence_length=self.sequence_length)
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(default_value=self.PAD_ID)
        return ids

    def compute_output_spec(self, strings):
        batch = strings.shape[0] if len(strings.shape) else None
        return keras.KerasTensor((batch, self.sequence_length), dtype="int32")

    # --------------------------------------------------------------------------- ids -> string
    def detokenize(self, ids):
        """Maps ids back to strings.

        Each row is read up to its first `</s>`; `<pad>` and `<s>` are dropped.

        Args:
            ids: integer tensor [batch, length] (any integer dtype), tf.RaggedTensor [batch,
                None], or a list of rows, each a list or a NumPy vector, of any lengths (an
                empty row gives ``b""``, an empty list ``[]`` an empty batch).

        Returns:
            tf.string tensor [batch] (valid UTF-8).

        Raises:
            TypeError: non-integer ids.
            ValueError: a rank other than 2, or an id outside ``[0, vocabulary_size)`` (in a
                graph, an assertion op fails instead).
        """
        self._check_vocabulary_set()
        ids = self._standardize_ids(ids)
        size = len(self._vocabulary)
        message = f"`ids` must lie in [0, vocabulary_size = {size})"
        if isinstance(ids, tf.__internal__.EagerTensor):
            values = ids.numpy()
            if values.size and (values.min() < 0 or values.max() >= size):
                raise ValueError(f"{message}, got values in [{values.min()}, {values.max()}].")
        else:
            with tf.control_dependencies(
                [
                    tf.debugging.assert_non_negative(ids, message=message),
                    tf.debugging.assert_less(ids, tf.constant(size, tf.int64), message=message),
                ]
            ):
                ids = tf.identity(ids)
        # Cast only now: int32 would wrap an int64 id of 2**32 + 5 to the valid id 5.
        ids = tf.cast(ids, tf.int32)
        return self._compiled(("detokenize",), self._valid_ids_to_strings, ids)

    def _valid_ids_to_strings(self, ids):
        before_end = tf.equal(tf.cumsum(tf.cast(ids == self.END_ID, tf.int32), axis=1), 0)
        keep = before_end & (ids != self.PAD_ID) & (ids != self.START_ID)
        pieces = tf.gather(
            string_constant(self._detokenized_pieces()), tf.ragged.boolean_mask(ids, keep)
        )
        strings = tf.strings.reduce_join(pieces, axis=1, separator=self._detokenize_separator)
        return tf.strings.unicode_transcode(
            strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )

    def _compiled(self, key, function, inputs):
        """Runs ``function`` traced once per layer and input kind when called eagerly.

        Eager ragged ops cost ~0.1 ms each and tokenization takes dozens; inside a graph (a
        model, a tf.data map, an export) the plain function is inlined instead. The traced
        functions live in a dict set with `object.__setattr__` so that neither Keras nor
        SavedModel tracking sees them.
        """
        if not tf.executing_eagerly():
            return function(inputs)
        cache = self.__dict__.get("_compiled_functions")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_compiled_functions", cache)
        if key not in cache:
            cache[key] = tf.function(function, reduce_retracing=True, autograph=False)
        return cache[key](inputs)

    # ------------------------------------------------------------------------------- assets
    def save_assets(self, dir_path):
        path = os.path.join(dir_path, self.VOCABULARY_ASSET)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write("".join(token + "\n" for token in self.vocabulary))

    def load_assets(self, dir_path):
        self.set_vocabulary(os.path.join(dir_path, self.VOCABULARY_ASSET))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": None if self._vocabulary is None else list(self._vocabulary),
                "sequence_length": self.sequence_length,
                "lowercase": self.lowercase,
                "normalization": self.normalization,
            }
        )
        return config

    # ------------------------------------------------------------------- hooks for subclasses
    def _check_vocabulary(self, vocabulary):
        """Raises if ``vocabulary`` lacks what the subclass needs."""

    def _build_lookup(self, vocabulary):
        """Builds the in-graph structures that map strings to ids."""

    def _strings_to_ids(self, strings):
        """Normalized tf.string [batch] -> int32 tf.RaggedTensor [batch, None]."""
        raise NotImplementedError(f"{type(self).__name__} does not tokenize strings.")

    def _tokens_to_ids(self, tokens):
        """Normalized pre-split tokens tf.RaggedTensor [batch, None] -> int32 ids, same shape."""
        raise NotImplementedError(f"{type(self).__name__} does not take pre-split tokens.")

    def _detokenized_pieces(self):
        """The bytes each id stands for in `detokenize` (one entry per id)."""
        return [token.encode("utf-8") for token in self._vocabulary]

    def split_words(self, strings):
        """The words `tokenize` sees: tf.string [batch] → normalized words, ragged
        [batch, None] (letters/digits/marks runs, and every other character on its own).

        A tagger uses it to show each tag next to the word it belongs to.
        """
        return self._split_words(self.normalize(strings))[0]

    # ------------------------------------------------------------------------------ helpers
    def _split_words(self, strings):
        """Normalized tf.string [batch] -> (words, space_before), both ragged [batch, None].

        ``space_before`` is True where a space preceded the word in the string, so that the
        words and these flags give the string back exactly. Normalized text holds no tab, so a
        tab can mark the cuts: one before every space, and one on each side of every character
        that is not a letter, digit or mark (with the space before it, if any). Core TF string
        ops are used because tensorflow-text's regex_split stops at a NUL character.
        """
        cut = tf.strings.regex_replace(strings, " ", "\t ")
        cut = tf.strings.regex_replace(cut, _SINGLE_CHARACTER_WORD, "\t\\0\t")
        pieces = tf.strings.split(cut, sep="\t")
        pieces = tf.ragged.boolean_mask(pieces, tf.strings.length(pieces) > 0)
        flat = pieces.flat_values
        space_before = tf.strings.substr(flat, 0, 1) == " "
        words = tf.strings.regex_replace(flat, "^ ", "")
        return pieces.with_flat_values(words), pieces.with_flat_values(space_before)

    def _check_vocabulary_set(self):
        if self._vocabulary is None:
            raise ValueError(
                f"{type(self).__name__} has no vocabulary yet: pass `vocabulary=`, call "
                "`set_vocabulary`, or build it with `from_corpus`."
            )

    def _standardize_strings(self, strings):
        if isinstance(strings, (str, bytes)):
            raise ValueError(
                "`strings` must be a batch of strings (rank 1), got a single string; wrap it "
                "in a list."
            )
        if isinstance(strings, tf.RaggedTensor):
            if strings.dtype != tf.string:
                raise TypeError(f"`strings` must hold tf.string, got {strings.dtype.name}.")
            if not self._accepts_pre_split or strings.shape.rank != 2:
                raise ValueError(
                    f"`strings` must have rank 1 [batch]"
                    f"{' or 2 [batch, tokens]' if self._accepts_pre_split else ''}, got a "
                    f"ragged tensor of shape {strings.shape}."
                )
            return strings
        if isinstance(strings, (list, tuple)):
            # Token rows as NumPy vectors of str (a tagged corpus loaded with NumPy) are lists.
            strings = [
                row.tolist() if isinstance(row, np.ndarray) and row.ndim == 1 else row
                for row in strings
            ]
            if all(isinstance(row, (str, bytes)) for row in strings):
                strings = string_constant(strings)
            elif all(
                isinstance(row, (list, tuple)) and all(isinstance(x, (str, bytes)) for x in row)
                for row in strings
            ):
                flat = string_constant([token for row in strings for token in row])
                lengths = tf.constant([len(row) for row in strings], tf.int64, shape=[len(strings)])
                return self._standardize_strings(tf.RaggedTensor.from_row_lengths(flat, lengths))
            else:
                raise TypeError(f"`strings` must hold str (or lists of str), got {strings!r:.200}.")
        if not tf.is_tensor(strings):
            try:
                strings = tf.convert_to_tensor(strings)
            except (TypeError, ValueError) as error:
                raise TypeError(f"`strings` must hold str, got {strings!r:.200}.") from error
        if strings.dtype != tf.string:
            raise TypeError(
                f"`strings` must be a tf.string tensor, got dtype {strings.dtype.name}."
            )
        rank = strings.shape.rank
        if rank == 2 and self._accepts_pre_split:
            if strings.shape[1] == 1:
                strings = self._check_not_text_column(strings)
            # A dense batch of pre-split tokens is padded with "" (its rows differ in length):
            # trailing empty strings are padding, not tokens (they would read as <unk>).
            return tf.RaggedTensor.from_tensor(strings, padding="")
        if rank is None:
            return tf.ensure_shape(strings, [None])
        if rank != 1:
            raise ValueError(
                f"`strings` must have rank 1 [batch]"
                f"{' or 2 [batch, tokens]' if self._accepts_pre_split else ''}, got shape "
                f"{strings.shape}."
            )
        return strings

    @staticmethod
    def _check_not_text_column(strings):
        """Refuses a dense [batch, 1] string tensor whose cells hold whitespace.

        ``keras.Input(shape=(1,), dtype="string")`` and a one-column DataFrame give whole
        texts as [batch, 1], the shape of one pre-split token per sentence: each text would
        read as one unknown token. The word split never makes a token with whitespace, so such
        a cell marks a text column; a pre-split token that does hold whitespace can still be
        passed in a ragged tensor or a list of lists.
        """
        has_space = tf.strings.regex_full_match(strings, r"(?s).*[\s\p{Z}].*")
        message = (
            "`strings` is a dense [batch, 1] tensor whose cells hold whitespace: whole texts "
            "as a column, which would read as one pre-split token each. Pass texts as a "
            "[batch] vector (`tf.squeeze(strings, -1)`), or pre-split tokens as a "
            "tf.RaggedTensor or a list of lists."
        )
        if tf.executing_eagerly():
            if bool(tf.reduce_any(has_space)):
                raise ValueError(message)
            return strings
        check = tf.debugging.Assert(tf.logical_not(tf.reduce_any(has_space)), [message])
        with tf.control_dependencies([check]):
            return tf.identity(strings)

    @staticmethod
    def _standardize_ids(ids):
        """``ids`` as a dense int64 tensor [batch, length] (the range is checked after)."""
        if isinstance(ids, tf.RaggedTensor):
            if not ids.dtype.is_integer:
                raise TypeError(f"`ids` must be integers, got dtype {ids.dtype.name}.")
            if ids.shape.rank != 2:
                raise ValueError(f"`ids` must have rank 2 [batch, length], got {ids.shape}.")
            return tf.cast(ids, tf.int64).to_tensor(default_value=Tokenizer.PAD_ID)
        if (
            isinstance(ids, (list, tuple))
            and any(isinstance(row, np.ndarray) for row in ids)
            and len({_row_length(row) for row in ids}) > 1
        ):
            # Rows as NumPy vectors of different lengths (ids collected per sentence): read as
            # lists, so that they make a ragged batch, not a raw conversion error.
            ids = [row.tolist() if isinstance(row, np.ndarray) else row for row in ids]
        if isinstance(ids, (list, tuple)) and all(
            isinstance(row, (list, tuple)) and not row for row in ids
        ):
            # No id at all: `tf.convert_to_tensor` would make these float32.
            return tf.zeros([len(ids), 0], tf.int64)
        if isinstance(ids, (list, tuple)) and any(isinstance(row, (list, tuple)) for row in ids):
            lengths = {len(row) for row in ids if isinstance(row, (list, tuple))}
            if len(lengths) > 1:
                return Tokenizer._standardize_ids(tf.ragged.constant(ids))
        ids = tf.convert_to_tensor(ids)
        if not ids.dtype.is_integer:
            raise TypeError(f"`ids` must be integers, got dtype {ids.dtype.name}.")
        if ids.shape.rank is not None and ids.shape.rank != 2:
            raise ValueError(f"`ids` must have rank 2 [batch, length], got shape {ids.shape}.")
        return tf.cast(ids, tf.int64)


def _row_length(row):
    """The length of a row of ids given as a list, tuple or NumPy vector (None otherwise)."""
    if isinstance(row, (list, tuple)) or (isinstance(row, np.ndarray) and row.ndim):
        return len(row)
    return None


def check_finite_corpus(dataset):
    """Rejects a corpus dataset that never ends: `from_corpus` counts it to the end."""
    if int(dataset.cardinality()) == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            "`texts_or_dataset` is an infinite tf.data.Dataset (e.g. `.repeat()` without a "
            "count): `from_corpus` reads the corpus to its end to count the words. Pass the "
            "finite dataset (or `.take(n)` of it)."
        )


def string_constant(values):
    """A tf.string constant of str/bytes values, kept whole.

    `tf.constant` goes through a fixed-width NumPy array, which drops trailing NUL characters
    ("a\\x00" -> "a"); an object array keeps them.
    """
    array = np.empty([len(values)], dtype=object)
    array[:] = list(values)
    try:
        return tf.constant(array, tf.string)
    except ValueError:
        # A str with a lone surrogate ("\ud800", from JSON or `surrogateescape`) has no UTF-8
        # form: it becomes U+FFFD, as an invalid UTF-8 byte does in `Tokenizer.normalize`.
        array[:] = [_replace_lone_surrogates(value) for value in array]
        return tf.constant(array, tf.string)


def _replace_lone_surrogates(value):
    """``value`` with every unpaired surrogate code point replaced by U+FFFD (a paired one,
    as a UTF-16 source leaves it, becomes its character); anything else unchanged."""
    if not isinstance(value, str):
        return value
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


@functools.cache
def _compatibility_capitals(form):
    """The strings of two or more characters, holding upper case, that ``form`` (NFKC or
    NFKD) makes of one character which lower-casing leaves as it is ("™" -> "TM", "℡" ->
    "TEL", "㎒" -> "MHz"), longest first (ties in code point order). One pass over the code
    points (~0.5 s), once."""
    found = set()
    for code_point in range(0x110000):
        if 0xD800 <= code_point <= 0xDFFF:
            continue
        character = chr(code_point)
        if character.lower() != character:
            continue
        normal = unicodedata.normalize(form, character)
        if len(normal) > 1 and normal.lower() != normal:
            found.add(normal)
    return tuple(sorted(found, key=lambda fragment: (-len(fragment), fragment)))


def _only_compatibility_capitals(token, fragments):
    """Whether every upper-case letter of ``token`` lies in some occurrence of one of
    ``fragments`` (overlapping occurrences included). Positions, not successive
    ``str.replace`` calls: with those the answer hung on the order of overlapping fragments
    ("xHPa" holds "HP" and "Pa"), which followed PYTHONHASHSEED."""
    covered = [False] * len(token)
    for fragment in fragments:
        start = token.find(fragment)
        while start != -1:
            covered[start : start + len(fragment)] = [True] * len(fragment)
            start = token.find(fragment, start + 1)
    return all(covered[i] or character.lower() == character for i, character in enumerate(token))


def _lower_utf8(strings):
    """`tf.strings.lower(encoding="utf-8")` of a string tensor of any shape, NUL characters kept.

    The op stops at the first NUL ("Ab\\x00CD" -> "ab"), so each NUL-free part is lowered on
    its own and the NULs are put back (as suffixes: a ragged `reduce_join` drops a NUL
    separator).
    """
    shape = tf.shape(strings)
    parts = tf.strings.split(tf.reshape(strings, [-1]), sep="\x00")
    lowered = tf.strings.lower(parts.flat_values, encoding="utf-8")
    position = tf.range(tf.size(lowered, out_type=tf.int64)) + 1
    last = tf.equal(position, tf.gather(parts.row_limits(), parts.value_rowids()))
    lowered = tf.where(last, lowered, tf.strings.join([lowered, "\x00"]))
    return tf.reshape(tf.strings.reduce_join(parts.with_flat_values(lowered), axis=-1), shape)


def _read_vocabulary_file(path):
    """The tokens of a one-token-per-line UTF-8 file.

    A leading UTF-8 byte order mark (which Windows editors write) is dropped, and a file whose
    lines all end in "\\r\\n" has Windows line ends, which are not part of its tokens. Neither
    can belong to a token of a valid file: its first line is "<pad>" (`save_assets` writes "\\n"
    line ends and keeps a "\\r" inside a token as it is).
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"`vocabulary` file {os.fspath(path)!r} is not UTF-8: line {line} holds the byte "
            f"0x{data[error.start]:02x}."
        ) from error
    lines = text.split("\n")
    ended = lines[-1] == ""  # the last line has its line end (or the file is empty)
    if ended:
        lines.pop()
    terminated = lines if ended else lines[:-1]
    if terminated and all(line.endswith("\r") for line in terminated):
        lines = [line.removesuffix("\r") for line in lines]
    if "" in lines:
        line = lines.index("") + 1
        where = " (a blank line at the end?)" if not any(lines[line:]) else ""
        raise ValueError(
            f"`vocabulary` file {os.fspath(path)!r}: line {line} is empty{where}; every line "
            "must hold one token."
        )
    first_line = {}
    for number, token in enumerate(lines, 1):
        if token in first_line:
            # `set_vocabulary` would name the token only: in a file of thousands of lines
            # (one merged from two, say) the lines tell where to look.
            raise ValueError(
                f"`vocabulary` file {os.fspath(path)!r}: line {number} repeats the token "
                f"{token!r} of line {first_line[token]}; every token must be listed once."
            )
        first_line[token] = number
    return lines
