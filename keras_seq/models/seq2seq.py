"""Encoder-decoder with attention for sequence-to-sequence tasks such as translation."""

import numbers

import keras
import tensorflow as tf
from keras import ops

from keras_seq import attention as attention_module
from keras_seq._checked_ids import check_bool, leading_dims_matching, mask_matching, poisoned
from keras_seq.decoding import BeamSearch, DecodingStrategy, GreedySearch, tile_to_beam
from keras_seq.layers.attention_decoder import AttentionDecoder
from keras_seq.layers.bridge import BRIDGE_MODES, Bridge
from keras_seq.layers.gru import GRU
from keras_seq.layers.lstm import LSTM
from keras_seq.layers.stacked_rnn import StackedRNN
from keras_seq.models._recurrent_body import (
    RefusesClassWeight,
    check_cell_and_dropout,
    check_optional_length,
    check_size,
    embed_ids,
    forbid_ids,
    sublayer_policy,
    token_ids,
)
from keras_seq.models._text_inputs import FunctionCache, check_texts
from keras_seq.text.tokenizer import string_constant

CELL_LAYERS = {"lstm": LSTM, "gru": GRU}
PAD_ID, START_ID, END_ID = 0, 1, 2


_MAX_INT32 = 2**31 - 1
# `translate` sizes its search's buffers by the texts above this `max_length`
# (`Seq2Seq._translation_bound`); up to it, by `max_length` (one trace for every input).
_SMALL_BOUND = 1024


def _check_max_length(max_length, allow_none=False):
    """``max_length`` as a Python int (or None when allowed); NumPy integers are taken."""
    if max_length is None and allow_none:
        return None
    # Lengths are int32 tensors in the graph: a larger bound has no static buffer shape.
    if (
        isinstance(max_length, bool)
        or not isinstance(max_length, numbers.Integral)
        or not 1 <= max_length <= _MAX_INT32
    ):
        expected = "None or an int in [1, 2**31 - 1]" if allow_none else "an int in [1, 2**31 - 1]"
        raise ValueError(f"`max_length` must be {expected}, got {max_length!r}.")
    return int(max_length)


def _check_max_length_bound(max_length_bound, why=""):
    """``max_length_bound`` as a Python int (NumPy integers are taken, as every other length
    argument takes them): TypeError unless an int, ValueError outside [1, 2**31 - 1]."""
    if isinstance(max_length_bound, bool) or not isinstance(max_length_bound, numbers.Integral):
        raise TypeError(f"`max_length_bound` must be an int{why}, got {max_length_bound!r}.")
    if not 1 <= max_length_bound <= _MAX_INT32:
        raise ValueError(f"`max_length_bound` must be in [1, 2**31 - 1], got {max_length_bound!r}.")
    return int(max_length_bound)


def _make_attention(name, units, dtype):
    cls = attention_module.get(name)  # a str (or TypeError), any case
    name = name.lower()
    if name == "multi_head":
        return cls(num_heads=4, key_dim=max(units // 4, 1), output_dim=units, dtype=dtype)
    if name == "additive":
        return cls(units=units, dtype=dtype)
    return cls(dtype=dtype)


def _zero_rows(values, rows):
    """``values`` [B, ...] with zeros in the rows where ``rows`` [B] is true."""
    shape = tf.concat([tf.shape(rows), tf.ones([tf.rank(values) - 1], tf.int32)], axis=0)
    return tf.where(tf.reshape(rows, shape), tf.zeros_like(values), values)


@keras.saving.register_keras_serializable(package="keras_seq")
class Seq2Seq(RefusesClassWeight, keras.Model):
    """RNN encoder-decoder with attention (Sutskever et al. 2014; Bahdanau et al. 2015; Luong
    et al. 2015), trained with teacher forcing and decoded by a compiled search.

    ::

        M, s^enc = Encoder(E_src x)                  stacked, optionally bidirectional
        s^dec_0  = Bridge(s^enc)                     copy / dense / zeros
        o_t, a_t = Decoder(E_tgt y_{t-1}, s^dec_{t-1}, M)    see `AttentionDecoder`
        p(y_t | y_<t, x) = softmax(W o_t + b)        W = E_tgt (tied) or its own matrix

    Training (`fit`) reads ``((source_ids, target_in), target_out)`` batches with
    ``target_in = <s> y`` and ``target_out = y </s>`` (see `keras_seq.pipelines`) and outputs
    logits [B, T, V]; compile it with `keras_seq.losses.MaskedSequenceLoss` (optionally label
    smoothed) and `MaskedAccuracy` / `Perplexity`. Decoding runs the decoder's single-step path
    inside one `tf.function` with a `keras_seq.decoding` strategy (greedy or beam search).

    Args:
        source_vocabulary_size, target_vocabulary_size: ints (taken from the tokenizers when
            they are given). Id 0 is padding, 1 ``<s>``, 2 ``</s>``.
        embedding_dim: int. Size of both embeddings.
        units: int. Decoder size; the encoder has ``units`` per direction, or ``units // 2``
            per direction when bidirectional, so its outputs are always ``units`` wide.
        encoder_layers, decoder_layers: ints. Depths.
        bidirectional_encoder: bool.
        cell: "lstm" or "gru".
        attention: "dot", "general", "additive" or "multi_head".
        attention_style: "luong" or "bahdanau".
        bridge: "copy", "dense" or "zeros".
        dropout: float. Dropout on embeddings and between levels.
        residual: bool. Residual connections between levels.
        tie_embeddings: bool. Use the target embedding as output matrix (with a projection
            from ``units`` to ``embedding_dim`` when they differ).
        source_tokenizer, target_tokenizer: optional `keras_seq.text.Tokenizer`s; with them the
            model translates raw strings (`translate`, `score`).

    Call arguments:
        inputs: tuple ``(source_ids [B, S], target_in [B, T])`` of int ids, or a dict of
            them under the keys ``"source"`` and ``"target"``.
        training: bool.

    Returns:
        Logits [B, T, target_vocabulary_size].

    Example:
    >>> model = Seq2Seq(100, 120, embedding_dim=16, units=32)
    >>> model((np.ones((2, 5), "int32"), np.ones((2, 4), "int32"))).shape
    TensorShape([2, 4, 120])
    """

    def __init__(
        self,
        source_vocabulary_size=None,
        target_vocabulary_size=None,
        embedding_dim=128,
        units=256,
        encoder_layers=1,
        decoder_layers=1,
        bidirectional_encoder=True,
        cell="lstm",
        attention="general",
        attention_style="luong",
        bridge="dense",
        dropout=0.0,
        residual=False,
        tie_embeddings=False,
        source_tokenizer=None,
        target_tokenizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(source_tokenizer, dict):
            source_tokenizer = keras.saving.deserialize_keras_object(source_tokenizer)
        if isinstance(target_tokenizer, dict):
            target_tokenizer = keras.saving.deserialize_keras_object(target_tokenizer)
        for name, size, tokenizer in (
            ("source_vocabulary_size", source_vocabulary_size, source_tokenizer),
            ("target_vocabulary_size", target_vocabulary_size, target_tokenizer),
        ):
            # A smaller size fails on the tokenizer's ids, a larger one decodes ids the
            # tokenizer cannot turn back into text.
            if size is not None and tokenizer is not None and size != tokenizer.vocabulary_size:
                raise ValueError(
                    f"`{name}` must equal the vocabulary size of its tokenizer "
                    f"({tokenizer.vocabulary_size}), or be None to take it; got {size!r}."
                )
        if source_vocabulary_size is None and source_tokenizer is not None:
            source_vocabulary_size = source_tokenizer.vocabulary_size
        if target_vocabulary_size is None and target_tokenizer is not None:
            target_vocabulary_size = target_tokenizer.vocabulary_size
        for name, value in (
            ("source_vocabulary_size", source_vocabulary_size),
            ("target_vocabulary_size", target_vocabulary_size),
        ):
            # NumPy integers are taken (`ids.max() + 1`), as the other sizes take them.
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Integral)
                or value <= END_ID + 1
            ):
                raise ValueError(
                    f"`{name}` must be an int > 3 (ids 0-2 are reserved), or come from a "
                    f"tokenizer; got {value!r}."
                )
        source_vocabulary_size = int(source_vocabulary_size)
        target_vocabulary_size = int(target_vocabulary_size)
        # Before any layer is made: a dropout of None or "0.1" failed in a comparison deep in
        # a layer (TypeError: '<=' not supported), a cell of ["lstm"] as unhashable.
        dropout = check_cell_and_dropout(cell, dropout)
        # Before the layers check them under their own names: `embedding_dim` was told as
        # Keras' `output_dim`, `units` as the halved size of a bidirectional encoder (-1 for
        # -2; "8" failed in `units % 2`), and `bridge` as the `Bridge` layer's `mode`.
        embedding_dim = check_size(embedding_dim, "embedding_dim")
        units = check_size(units, "units")
        # Told as the stacks' `num_layers` (an argument no caller of Seq2Seq wrote), and
        # `attention=None` as the attention registry's `name`.
        encoder_layers = check_size(encoder_layers, "encoder_layers")
        decoder_layers = check_size(decoder_layers, "decoder_layers")
        if not isinstance(attention, str):
            raise ValueError(
                "`attention` must be one of 'dot', 'general', 'additive', 'multi_head', got "
                f"{attention!r}."
            )
        if not isinstance(bridge, str) or bridge not in BRIDGE_MODES:
            raise ValueError(f"`bridge` must be one of {BRIDGE_MODES}, got {bridge!r}.")
        if bidirectional_encoder and units % 2:
            raise ValueError(f"A bidirectional encoder needs an even `units`, got {units}.")
        self.source_vocabulary_size = source_vocabulary_size
        self.target_vocabulary_size = target_vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.bidirectional_encoder = check_bool(bidirectional_encoder, "bidirectional_encoder")
        self.cell = cell
        self.attention = attention
        self.attention_style = attention_style
        self.bridge = bridge
        self.dropout = dropout
        self.residual = check_bool(residual, "residual")
        self.tie_embeddings = check_bool(tie_embeddings, "tie_embeddings")
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer

        layer_cls = CELL_LAYERS[cell]
        policy = sublayer_policy(self)
        encoder_units = units // 2 if bidirectional_encoder else units
        self.source_embedding = keras.layers.Embedding(
            source_vocabulary_size,
            embedding_dim,
            mask_zero=True,
            name="source_embedding",
            dtype=policy,
        )
        self.target_embedding = keras.layers.Embedding(
            target_vocabulary_size,
            embedding_dim,
            mask_zero=True,
            name="target_embedding",
            dtype=policy,
        )
        self.embedding_dropout = keras.layers.Dropout(dropout, dtype=policy)
        self.encoder = StackedRNN(
            layer_cls(encoder_units, name="encoder", dtype=policy),
            num_layers=encoder_layers,
            bidirectional=bidirectional_encoder,
            dropout=dropout,
            residual=residual,
            return_sequences=True,
            return_state=True,
            name="encoder",
            dtype=policy,
        )
        self.decoder = AttentionDecoder(
            layer_cls(units, name="decoder", dtype=policy),
            _make_attention(attention, units, policy),
            num_layers=decoder_layers,
            attention_style=attention_style,
            dropout=dropout,
            residual=residual,
            name="decoder",
            dtype=policy,
        )
        self.state_bridge = Bridge(
            bridge,
            decoder_state_sizes=self.decoder.state_size,
            bidirectional=bidirectional_encoder,
            name="bridge",
            dtype=policy,
        )
        if tie_embeddings:
            self.tied_projection = (
                None
                if units == embedding_dim
                else keras.layers.Dense(
                    embedding_dim, use_bias=False, name="tied_projection", dtype=policy
                )
            )
            self.output_layer = None
        else:
            self.output_layer = keras.layers.Dense(
                target_vocabulary_size, name="logits", dtype=policy
            )
        self._decoders = FunctionCache()

    # --------------------------------------------------------------------------- build
    def build(self, input_shape=None):
        ids = ops.ones((1, 2), dtype="int32")
        self.encoder_decoder_logits(ids, ids)
        if self.tie_embeddings:
            self.output_bias = self.add_weight(
                shape=(self.target_vocabulary_size,), initializer="zeros", name="output_bias"
            )
        self.built = True

    # ------------------------------------------------------------------------ pieces
    def encode(self, source_ids, training=False):
        """Returns ``(memory [B, S, units], memory_mask [B, S], decoder initial states)``."""
        source_ids, embedded = embed_ids(
            self.source_embedding, source_ids, self.source_vocabulary_size, "source_ids"
        )
        if len(source_ids.shape) != 2:
            raise ValueError(
                f"`source_ids` must be int ids of shape [batch, length], got {source_ids.shape}."
            )
        mask = ops.not_equal(source_ids, PAD_ID)
        embedded = self.embedding_dropout(embedded, training=training)
        memory, states = self.encoder(embedded, mask=mask, training=training)
        return memory, mask, self.state_bridge(states)

    def project(self, outputs):
        """Decoder outputs [..., units] → logits [..., V]."""
        if self.tie_embeddings:
            if self.tied_projection is not None:
                outputs = self.tied_projection(outputs)
            logits = ops.matmul(outputs, ops.transpose(self.target_embedding.embeddings))
            if hasattr(self, "output_bias"):
                logits = logits + self.output_bias
        else:
            logits = self.output_layer(outputs)
        return logits

    def forbid_special_tokens(self, logits):
        """Sets the logits of padding and ``<s>`` to -inf: decoding never produces them (at any
        temperature, in any float dtype: a finite stand-in overflows float16 and a large
        temperature scales it back into reach), and scores are log-probabilities under that
        same distribution. (Training leaves them be: they are never targets, and label
        smoothing must not see an -inf.)"""
        return forbid_ids(logits, [PAD_ID, START_ID], self.target_vocabulary_size)

    def encoder_decoder_logits(self, source_ids, target_in, training=False):
        memory, memory_mask, states = self.encode(source_ids, training)
        target_in, embedded = embed_ids(
            self.target_embedding, target_in, self.target_vocabulary_size, "target_in"
        )
        # A batch mismatch was told as the decoder's `initial_state[0]` shape, naming neither.
        message = (
            "`source_ids` and `target_in` must have the same batch size (one target per source)"
        )
        source_batch, target_batch = memory.shape[0], target_in.shape[0]
        if source_batch is not None and target_batch is not None and source_batch != target_batch:
            raise ValueError(f"{message}; got {source_batch} and {target_batch}.")
        embedded = leading_dims_matching(embedded, memory, 1, message)
        embedded = self.embedding_dropout(embedded, training=training)
        outputs, _ = self.decoder(
            embedded,
            memory,
            memory_mask=memory_mask,
            initial_state=states,
            mask=ops.not_equal(target_in, PAD_ID),
            training=training,
        )
        return self.project(outputs)

    def call(self, inputs, training=False):
        if isinstance(inputs, dict):
            # A bare KeyError named one missing key, not what the dict must hold.
            if set(inputs) != {"source", "target"}:
                raise ValueError(
                    "Seq2Seq expects a dict of inputs with the keys 'source' (source ids) and "
                    f"'target' (target_in ids), got the keys {sorted(map(str, inputs))}."
                )
            inputs = (inputs["source"], inputs["target"])
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                "Seq2Seq expects `inputs=(source_ids, target_in)` (two int tensors), got "
                f"{type(inputs).__name__}."
            )
        return self.encoder_decoder_logits(inputs[0], inputs[1], training)

    # ------------------------------------------------------------------------ decoding
    def generate_step(self, memory, memory_mask):
        """The step function a `keras_seq.decoding` strategy drives (tiled memory for beams)."""
        self._ensure_built()  # the step reads the target embedding's weights directly

        def step(ids, state, index):
            # A plain lookup: the Embedding layer would attach a Keras mask the cells ignore.
            embedded = ops.take(self.target_embedding.embeddings, ids, axis=0)
            output, state, weights = self.decoder.step(embedded, state, memory, memory_mask)
            return self.forbid_special_tokens(self.project(output)), state, weights

        return step

    def decode(
        self,
        source_ids,
        strategy,
        max_length=None,
        min_length=0,
        max_length_bound=100,
        seed=None,
    ):
        """Runs ``strategy`` (a `GreedySearch` or `BeamSearch`) from the source ids.

        ``max_length`` defaults to ``2 * source_length + 10`` tokens per example, capped at
        the static ``max_length_bound``. A Python int ``max_length`` is also the static bound
        (the result has ``max_length`` columns up to 1024, the steps the search ran above;
        it may exceed ``max_length_bound``); a
        tensor ``max_length`` is capped at ``max_length_bound``. ``seed`` seeds a sampling
        strategy (``GreedySearch(TemperatureSampler(...))``): the same seed, the same
        translations; None draws a fresh one at each call. Returns the strategy's
        `DecodingResult`. A model not built yet is built first (its decoding step reads the
        target embedding, which only `build` makes: an AttributeError).
        """
        if not isinstance(strategy, DecodingStrategy):
            raise TypeError(
                "`strategy` must be a keras_seq.decoding strategy (`GreedySearch`, "
                f"`BeamSearch`), got {strategy!r}."
            )
        if max_length is None:
            max_length_bound = _check_max_length_bound(
                max_length_bound,
                " when `max_length` is None (the default length is capped by it)",
            )
        if isinstance(max_length, numbers.Integral) and not isinstance(max_length, bool):
            # Checked under its own name: it becomes the static bound below, and a
            # `max_length=0` was told as "`max_length_bound` must be in [1, 2**31 - 1]".
            max_length = _check_max_length(max_length)
        self._ensure_built()
        memory, memory_mask, states = self.encode(source_ids)
        if max_length is None:
            source_lengths = ops.sum(ops.cast(memory_mask, "int32"), axis=1)
            max_length = ops.minimum(2 * source_lengths + 10, max_length_bound)
        if isinstance(strategy, BeamSearch):
            memory, memory_mask = tile_to_beam((memory, memory_mask), strategy.beam_size)
        start_ids = ops.full((ops.shape(source_ids)[0],), START_ID, dtype="int32")
        if isinstance(max_length, numbers.Integral) and not isinstance(max_length, bool):
            # The length asked for is the static bound: `max_length=10` returned (and
            # rewrote at every step) 100 columns, and 200 failed against a bound of 100 the
            # caller never set.
            max_length_bound = int(max_length)
        return strategy(
            self.generate_step(memory, memory_mask),
            start_ids,
            END_ID,
            states,
            max_length=max_length,
            min_length=min_length,
            seed=seed,
            max_length_bound=max_length_bound,
        )

    @staticmethod
    def _strategy(beam_size, length_penalty, n_best):
        if length_penalty is not None and (
            isinstance(length_penalty, bool)
            or not isinstance(length_penalty, numbers.Real)
            or not 0 <= length_penalty < float("inf")
        ):
            raise ValueError(
                f"`length_penalty` must be None or a finite number >= 0 (GNMT alpha), got "
                f"{length_penalty!r}."
            )
        penalty = ("gnmt", float(length_penalty)) if length_penalty else None
        # Built for beam_size 1 too: it checks beam_size and n_best <= beam_size, which
        # greedy decoding (one hypothesis per input) must satisfy as well.
        beam_search = BeamSearch(beam_size, length_penalty=penalty, n_best=n_best)
        return GreedySearch() if beam_size == 1 else beam_search

    def compiled_decode(self, beam_size=4, length_penalty=0.6, n_best=1, max_length_bound=100):
        """The decode of ``source_ids [B, S]`` wrapped once in a `tf.function` per setting.

        The function's input signature is int32 ``[None, None]``; what it returns checks ids
        of any other dtype (int64, NumPy arrays, lists, whole floats) in their own dtype
        before the cast, as `decode` does, so an int64 id of 2**32 + 5 is an
        `InvalidArgumentError`, not the id 5. Its ``get_concrete_function`` (and every other
        attribute) is the `tf.function`'s."""
        self._ensure_built()
        # Checked at every call, not only when compiling: the cache key of `beam_size=1`
        # equals that of `True` or `1.0`, which would then skip the checks.
        strategy = self._strategy(beam_size, length_penalty, n_best)
        # The range is checked here, not only when the first call traces the search.
        max_length_bound = _check_max_length_bound(max_length_bound)
        key = ("ids", beam_size, length_penalty, n_best, max_length_bound)
        function = self._decoders.compiled(
            key,
            lambda source_ids: self.decode(source_ids, strategy, max_length_bound=max_length_bound),
            [tf.TensorSpec([None, None], tf.int32)],
        )
        return self._decoders.wrapped(
            key, lambda: _IdsChecked(function, self.source_vocabulary_size, "source_ids")
        )

    def _require_tokenizers(self, method):
        if self.source_tokenizer is None or self.target_tokenizer is None:
            raise ValueError(
                f"`{method}` needs the model to be built with `source_tokenizer` and "
                "`target_tokenizer`."
            )

    def _ensure_built(self):
        # The decoding and scoring paths read weights directly (the target embedding, the
        # tied output bias), which only `build` creates: a fresh model is built here, eagerly,
        # rather than inside a traced function.
        if not self.built:
            self.build()

    def source_ids_from_text(self, texts, max_source_length=None):
        """Graph-friendly: tf.string [B] → padded source ids [B, max(1, longest)]; a longer
        source keeps its first ``max_source_length`` tokens (None or an int >= 1)."""
        max_source_length = check_optional_length(max_source_length, "max_source_length")
        ids = self.source_tokenizer.tokenize(texts)
        if max_source_length is not None:
            ids = ids[:, :max_source_length]
        ids = ids.to_tensor(PAD_ID)
        # A batch of empty sources still gets one (padding) column: the encoder needs a step.
        return tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])

    def translate_text(self, texts, strategy, max_length=100, max_source_length=None):
        """Graph-friendly translation of tf.string [B] with a decoding ``strategy``.

        Returns ``(translations tf.string [B, N], DecodingResult)``; an empty source gives
        the empty string, by rule rather than by the model: its hypotheses in the result are
        empty too (no ids, length 0) with score and log-probability 0, so the numbers
        describe the string returned (the search decoded something from padding).
        """
        source_ids = self.source_ids_from_text(texts, max_source_length)
        result = self.decode(source_ids, strategy, max_length_bound=max_length)
        empty = ~tf.reduce_any(source_ids != PAD_ID, axis=1)
        result = result._replace(
            **{
                field: _zero_rows(getattr(result, field), empty)
                for field in ("ids", "lengths", "scores", "log_probs", "token_scores")
            },
            alignments=None if result.alignments is None else _zero_rows(result.alignments, empty),
        )
        shape = tf.shape(result.ids)
        strings = self.target_tokenizer.detokenize(tf.reshape(result.ids, [-1, shape[2]]))
        strings = tf.reshape(strings, shape[:2])
        return tf.where(empty[:, None], tf.constant(""), strings), result

    def translate(
        self,
        texts,
        beam_size=4,
        n_best=None,
        length_penalty=0.6,
        max_length=100,
        max_source_length=None,
    ):
        """Translates raw strings.

        An empty (or all-whitespace) input translates to the empty string; words never seen
        in training go through the tokenizer's unknown/byte fallback; a source longer than
        ``max_source_length`` tokens keeps its first ``max_source_length`` tokens.

        Args:
            texts: a string or a list of strings.
            beam_size: int >= 1. 1 means greedy decoding.
            n_best: None for the best translation per input, or an int in [1, beam_size] for
                that many alternatives per input (best first; greedy decoding has one).
            length_penalty: GNMT alpha, None or a number >= 0 (0 or None: no normalization).
            max_length: static bound on the output length in tokens (``</s>`` included). A
                translation stops at ``min(max_length, 2 * source_length + 10)`` tokens
                (``source_length``: its source's tokens, after ``max_source_length``), without
                a word of warning: a one-token source translates to 12 tokens at most.
            max_source_length: None or an int >= 1. Truncation of the source (in tokens).

        Returns:
            A list of strings (also for a single string), or with ``n_best`` a list of lists
            of strings.

        Raises:
            ValueError: ``n_best > beam_size`` (greedy included), ``max_length < 1``,
                ``max_source_length < 1``, a negative ``length_penalty``, or no text.
            MemoryError: the search's buffers do not fit in memory: they are allocated up
                front for ``max_length`` steps, or above 1024 for the longest translation
                the texts can have (``2 * source_length + 10``, rounded up to a power of 2).
        """
        self._require_tokenizers("translate")
        texts = check_texts(texts)
        max_length = _check_max_length(max_length)
        max_source_length = check_optional_length(max_source_length, "max_source_length")
        self._ensure_built()
        count = 1 if n_best is None else n_best
        # Checked at every call (see `compiled_decode`): a cached setting skipped the checks.
        strategy = self._strategy(beam_size, length_penalty, count)
        bound = self._translation_bound(texts, max_length, max_source_length)
        translate = self._decoders.compiled(
            ("text", beam_size, length_penalty, count, bound, max_source_length),
            lambda texts: self.translate_text(texts, strategy, bound, max_source_length)[0],
            [tf.TensorSpec([None], tf.string)],
        )
        try:
            strings = translate(string_constant(texts)).numpy()
        except tf.errors.ResourceExhaustedError as error:
            # The search allocates its output buffers for `bound` steps up front.
            raise MemoryError(
                f"translate: decoding {len(texts)} text(s) with beam_size={beam_size} and "
                f"max_length={max_length} needs more memory than there is (the search "
                f"allocates its buffers for {bound} steps); lower max_length or the batch."
            ) from error
        decoded = [[s.decode("utf-8") for s in row] for row in strings]
        return [row[0] for row in decoded] if n_best is None else decoded

    def _translation_bound(self, texts, max_length, max_source_length):
        """The number of steps `translate`'s search allocates its buffers for: ``max_length``
        up to `_SMALL_BOUND`; above it, no more than the longest translation these ``texts``
        can have (``2 * source_length + 10`` tokens), rounded up to a power of two (few
        traces), so the same translations. A ``max_length`` of 10**9 allocated buffers of
        10**9 steps up front (the process was killed for memory before any MemoryError),
        and 2**31 - 1 failed in a reshape ("Value is out of int32 range")."""
        if max_length <= _SMALL_BOUND:
            return max_length
        ids = self.source_ids_from_text(string_constant(texts), max_source_length)
        longest = int(tf.reduce_max(tf.reduce_sum(tf.cast(ids != PAD_ID, tf.int32), axis=1)))
        needed = max(_SMALL_BOUND, 2 * longest + 10)
        return min(max_length, 1 << (needed - 1).bit_length())

    def score(self, sources, targets, max_source_length=None, max_length=None):
        """Log-probability ``log p(target | source)`` of each given translation (``</s>``
        included), under teacher forcing.

        With the same ``max_source_length`` and ``max_length``, this is what the ``score``
        serving signature returns: the source keeps its first ``max_source_length`` tokens
        (as in `translate`), and a target of ``max_length`` tokens or more is scored on its
        first ``max_length`` tokens, without ``</s>``, as decoding bounded at ``max_length``
        scores a hypothesis it stops there. An empty source is scored by the model like any
        other: the translating methods' rule (the translation ``""`` with log-probability 0)
        does not apply here.

        Args:
            sources: a string or a non-empty list of strings (as `translate` takes).
            targets: a string or a list of strings, one per source.
            max_source_length: None or an int >= 1. Truncation of the source (in tokens).
            max_length: None or an int >= 1. The most target tokens scored, ``</s>``
                included.

        Returns:
            A float32 NumPy array [B], one score per (source, target) pair.

        Raises:
            ValueError: no text, a different number of sources and targets, or a length
                bound < 1.
        """
        self._require_tokenizers("score")
        sources = check_texts(sources, "sources")
        targets = check_texts(targets, "targets")
        if len(sources) != len(targets):
            raise ValueError(
                f"`sources` and `targets` must have the same length (one target per source), "
                f"got {len(sources)} and {len(targets)}."
            )
        max_source_length = check_optional_length(max_source_length, "max_source_length")
        max_length = _check_max_length(max_length, allow_none=True)
        self._ensure_built()
        scores = self.score_text(
            string_constant(sources), string_constant(targets), max_source_length, max_length
        )
        return scores.numpy()

    def score_text(self, sources, targets, max_source_length=None, max_length=None):
        """Graph-friendly `score`: tf.string [B] and [B] → float32 [B] (same bounds)."""
        max_source_length = check_optional_length(max_source_length, "max_source_length")
        max_length = _check_max_length(max_length, allow_none=True)
        # A served request may pair N sources with M targets; the model would broadcast one
        # source over every target instead of failing.
        same_count = tf.debugging.assert_equal(
            tf.shape(sources)[0],
            tf.shape(targets)[0],
            message="`source` and `target` must hold as many strings (one target per source)",
        )
        with tf.control_dependencies([same_count]):
            source_ids = self.source_ids_from_text(sources, max_source_length)
        target = self.target_tokenizer.tokenize(targets)
        rows = target.nrows()
        target_in = tf.concat([tf.fill([rows, 1], START_ID), target], axis=1)
        target_out = tf.concat([target, tf.fill([rows, 1], END_ID)], axis=1)
        if max_length is not None:
            target_in, target_out = target_in[:, :max_length], target_out[:, :max_length]
        # At least one column, as for the source: an empty batch still runs the decoder.
        target_in, target_out = (
            tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])
            for ids in (target_in.to_tensor(PAD_ID), target_out.to_tensor(PAD_ID))
        )
        return self.sequence_log_probability(source_ids, target_in, target_out)

    def sequence_log_probability(self, source_ids, target_in, target_out):
        """Σ_t log p(target_out_t | target_in_≤t, source) over non-padding tokens, float32 [B]
        (also under a mixed-precision policy, as the decoding scores).

        ``target_out`` is checked as the inputs are (see `token_ids`), and must have the shape
        of ``target_in``: an id outside the vocabulary failed unnamed in a gather on the CPU
        and was read as log-probability 0 (a certain token) on a GPU. Under XLA, which drops
        the check, a bad id makes the score NaN."""
        logits = ops.cast(self.encoder_decoder_logits(source_ids, target_in), "float32")
        logits = self.forbid_special_tokens(logits)
        log_probs = tf.nn.log_softmax(logits)
        target_out, fine = token_ids(target_out, self.target_vocabulary_size, "target_out")
        if len(target_out.shape) != 2:
            raise ValueError(
                f"`target_out` must be int ids of shape [batch, length], got {target_out.shape}."
            )
        target_out = mask_matching(
            target_out,
            tf.shape(log_probs)[:2],
            "`target_out` must have the shape [batch, length] of `target_in`",
        )
        picked = tf.gather(log_probs, target_out, batch_dims=2)
        return poisoned(tf.reduce_sum(tf.where(target_out != PAD_ID, picked, 0.0), axis=1), fine)

    # ------------------------------------------------------------------------- serving
    def serving_signatures(
        self, beam_size=4, n_best=None, length_penalty=0.6, max_length=100, max_source_length=256
    ):
        """String-in / string-out signatures for `keras_seq.export.export` (TF Serving).

        - ``serving_default(source)``: beam search; ``translation`` [B], ``score`` [B] (the
          length-penalized ranking score) and ``log_probability`` [B].
        - ``translate_nbest(source)``: ``translations`` [B, n_best], ``scores`` [B, n_best].
        - ``translate_greedy(source)``: ``translation`` [B], ``log_probability`` [B].
        - ``score(source, target)``: ``log_probability`` [B] of the given translations.

        The decoding options are per-signature constants (the arguments here), which also
        works with TF Serving's batching (see docs/serving.md). The translating signatures
        keep the first ``max_source_length`` source tokens (None: all; else an int >= 1), so
        that the work of a request is bounded by the two lengths whatever string a client
        sends; ``score`` keeps the same source tokens and scores at most ``max_length``
        target tokens (see `score`), so that its work is bounded too. As in `translate`, a
        translation stops at ``min(max_length, 2 * source_length + 10)`` tokens. ``n_best``
        must be in [1, beam_size] (None: ``beam_size``).
        """
        self._require_tokenizers("serving_signatures")
        n_best = beam_size if n_best is None else n_best
        max_length = _check_max_length(max_length)
        max_source_length = check_optional_length(max_source_length, "max_source_length")
        self._ensure_built()
        source = tf.TensorSpec([None], tf.string, name="source")
        target = tf.TensorSpec([None], tf.string, name="target")
        best = self._strategy(beam_size, length_penalty, 1)
        several = self._strategy(beam_size, length_penalty, n_best)
        greedy = GreedySearch()

        def serving_default(source):
            strings, result = self.translate_text(source, best, max_length, max_source_length)
            return {
                "translation": strings[:, 0],
                "score": result.scores[:, 0],
                "log_probability": result.log_probs[:, 0],
            }

        def translate_nbest(source):
            strings, result = self.translate_text(source, several, max_length, max_source_length)
            return {"translations": strings, "scores": result.scores}

        def translate_greedy(source):
            strings, result = self.translate_text(source, greedy, max_length, max_source_length)
            return {"translation": strings[:, 0], "log_probability": result.log_probs[:, 0]}

        def score(source, target):
            return {
                "log_probability": self.score_text(source, target, max_source_length, max_length)
            }

        return {
            "serving_default": (serving_default, [source]),
            "translate_nbest": (translate_nbest, [source]),
            "translate_greedy": (translate_greedy, [source]),
            "score": (score, [source, target]),
        }

    def serving_examples(self):
        """Warm-up inputs of every signature (real German sentences of the Ding corpus)."""
        sources = ["Er hat es tun müssen.", "Das ist nicht meine Schuld."]
        examples = {name: {"source": sources} for name in self.serving_signatures()}
        examples["score"] = {
            "source": sources,
            "target": ["He had to do it.", "It's not my fault."],
        }
        return examples

    # ----------------------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "source_vocabulary_size": self.source_vocabulary_size,
                "target_vocabulary_size": self.target_vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "encoder_layers": self.encoder_layers,
                "decoder_layers": self.decoder_layers,
                "bidirectional_encoder": self.bidirectional_encoder,
                "cell": self.cell,
                "attention": self.attention,
                "attention_style": self.attention_style,
                "bridge": self.bridge,
                "dropout": self.dropout,
                "residual": self.residual,
                "tie_embeddings": self.tie_embeddings,
                "source_tokenizer": None
                if self.source_tokenizer is None
                else keras.saving.serialize_keras_object(self.source_tokenizer),
                "target_tokenizer": None
                if self.target_tokenizer is None
                else keras.saving.serialize_keras_object(self.target_tokenizer),
            }
        )
        return config


class _IdsChecked:
    """`Seq2Seq.compiled_decode`'s callable: a `tf.function` with an int32 input signature,
    whose ids of any other dtype are checked in that dtype (`token_ids`) before the cast
    (the signature alone cast a NumPy int64 2**32 + 5 to 5 and refused int64 tensors)."""

    def __init__(self, function, vocabulary_size, name):
        self._function = function
        self._vocabulary_size = vocabulary_size
        self._name = name

    def __call__(self, source_ids):
        if not (isinstance(source_ids, tf.Tensor) and source_ids.dtype == tf.int32):
            source_ids, _ = token_ids(source_ids, self._vocabulary_size, self._name)
        return self._function(source_ids)

    def __getattr__(self, name):
        return getattr(self._function, name)
