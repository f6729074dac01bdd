"""Recurrent language model with optional weight tying and compiled text generation."""

import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_seq._checked_ids import check_bool, poisoned
from keras_seq.decoding import (
    ArgmaxSelector,
    GreedySearch,
    TemperatureSampler,
    TopKSampler,
    TopPSampler,
)
from keras_seq.models._recurrent_body import (
    RefusesClassWeight,
    build_recurrent_body,
    check_cell_and_dropout,
    check_optional_length,
    check_size,
    embed_ids,
    forbid_ids,
    resolve_vocabulary_size,
    sublayer_policy,
    token_ids,
)
from keras_seq.models._text_inputs import FunctionCache, check_texts
from keras_seq.text.tokenizer import string_constant

PAD_ID, START_ID, END_ID = 0, 1, 2


def select_tokens(temperature=None, top_k=None, top_p=None):
    """The `TokenSelector` for a setting: greedy, temperature, top-k or top-p sampling.

    ``temperature`` None or 0 (with neither ``top_k`` nor ``top_p``) is greedy decoding; a
    ``top_k`` or ``top_p`` samples at ``temperature`` (1.0 when None); 0 is always greedy.
    """
    if top_k is not None and top_p is not None:
        raise ValueError(f"Give `top_k` or `top_p`, not both (got {top_k!r} and {top_p!r}).")
    # Checked here, under the names `generate` takes: the samplers' own errors name their
    # `k` and `p`, which a caller of `generate` never wrote.
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral):
            raise TypeError(f"`top_k` must be None or an int >= 1, got {top_k!r}.")
        if top_k < 1:
            raise ValueError(f"`top_k` must be None or an int >= 1, got {top_k!r}.")
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, numbers.Real):
            raise TypeError(f"`top_p` must be None or a float in (0, 1], got {top_p!r}.")
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"`top_p` must be None or a float in (0, 1], got {top_p!r}.")
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
            raise TypeError(f"`temperature` must be a float >= 0 or None, got {temperature!r}.")
        if temperature < 0:
            raise ValueError(f"`temperature` must be >= 0, got {temperature}.")
    if temperature == 0 or (temperature is None and top_k is None and top_p is None):
        return ArgmaxSelector()
    temperature = 1.0 if temperature is None else float(temperature)
    if top_k is not None:
        return TopKSampler(top_k, temperature)
    if top_p is not None:
        return TopPSampler(top_p, temperature)
    return TemperatureSampler(temperature)


def _check_max_length(max_length):
    """``max_length`` as a Python int; NumPy integers are taken."""
    if (
        isinstance(max_length, bool)
        or not isinstance(max_length, numbers.Integral)
        or not 1 <= max_length <= 2**31 - 1
    ):
        raise ValueError(f"`max_length` must be an int in [1, 2**31 - 1], got {max_length!r}.")
    return int(max_length)


@keras.saving.register_keras_serializable(package="keras_seq")
class RNNLanguageModel(RefusesClassWeight, keras.Model):
    """Next-token language model: embedding → stacked recurrent layers → softmax.

    ::

        e_t = E x_t                                  embedding (E: [V, embedding_dim])
        h_t = RNN(d(e_t), h_{t-1})                   ``num_layers`` stacked LSTM/GRU levels
        p(x_{t+1} | x_≤t) = softmax(W d(h_t) + b)    W = E (tied) or its own matrix

    With ``tie_weights=True`` the output matrix is the transposed embedding (Press & Wolf 2017;
    Inan et al. 2017): ``logits = (P h_t) Eᵀ + b`` with ``P`` a bias-free projection from
    ``units`` to ``embedding_dim`` when they differ (absent when equal), so one variable serves
    both uses and receives both gradients. ``d`` is dropout (on embeddings, between levels and
    before the output).

    Training (`fit`) reads ``(ids_in, ids_out)`` batches with ``ids_in = <s> y`` and ``ids_out =
    y </s>`` (see `keras_seq.pipelines.language_model_dataset`) and outputs logits [B, T, V];
    compile it with `keras_seq.losses.MaskedSequenceLoss` and `keras_seq.metrics.Perplexity`.
    `generate` runs the stack over the prompt ``<s> w_1 … w_n`` except its last token to get
    the state, then continues from ``w_n`` (or ``<s>`` for an empty prompt) with a
    `keras_seq.decoding.GreedySearch` whose selector is argmax, temperature, top-k or top-p,
    compiled once per setting with `tf.function`; generation stops at ``</s>``.

    Args:
        vocabulary_size: int (taken from the tokenizer when given). Id 0 is padding, 1
            ``<s>``, 2 ``</s>``.
        embedding_dim: int. Size of the embedding.
        units: int. Size of each recurrent level.
        num_layers: int. Number of stacked levels.
        cell: "lstm" or "gru".
        dropout: float in [0, 1). Dropout on the embeddings, between levels and before the
            output layer.
        tie_weights: bool. Use the transposed embedding as the output matrix.
        tokenizer: optional `keras_seq.text.Tokenizer`; with it the model generates from raw
            strings (`generate`) and exports string-in/string-out signatures.

    Call arguments:
        inputs: int ids [B, T] (0 is padding).
        training: bool.

    Returns:
        Logits [B, T, vocabulary_size].

    Example:
    >>> model = RNNLanguageModel(100, embedding_dim=16, units=16, tie_weights=True)
    >>> model(np.ones((2, 5), "int32")).shape
    TensorShape([2, 5, 100])
    """

    def __init__(
        self,
        vocabulary_size=None,
        embedding_dim=128,
        units=256,
        num_layers=1,
        cell="lstm",
        dropout=0.0,
        tie_weights=False,
        tokenizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(tokenizer, dict):
            tokenizer = keras.saving.deserialize_keras_object(tokenizer)
        # ids 0-3 are reserved (padding, <s>, </s>, <unk>): at least one word beyond them.
        vocabulary_size = resolve_vocabulary_size(vocabulary_size, tokenizer, minimum=END_ID + 2)
        dropout = check_cell_and_dropout(cell, dropout)
        embedding_dim = check_size(embedding_dim, "embedding_dim")
        units = check_size(units, "units")
        # A NumPy integer was kept as such in the config (`json.dumps` refuses it).
        num_layers = check_size(num_layers, "num_layers")
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.num_layers = num_layers
        self.cell = cell
        self.dropout = dropout
        self.tie_weights = check_bool(tie_weights, "tie_weights")
        self.tokenizer = tokenizer

        policy = sublayer_policy(self)
        build_recurrent_body(self, return_state=True)
        self.output_dropout = keras.layers.Dropout(dropout, dtype=policy)
        if tie_weights:
            self.tied_projection = (
                None
                if units == embedding_dim
                else keras.layers.Dense(
                    embedding_dim, use_bias=False, name="tied_projection", dtype=policy
                )
            )
            self.output_layer = None
        else:
            self.tied_projection = None
            self.output_layer = keras.layers.Dense(vocabulary_size, name="logits", dtype=policy)
        self._generators = FunctionCache()

    # --------------------------------------------------------------------------- build
    def build(self, input_shape=None):
        if self.tie_weights:
            self.output_bias = self.add_weight(
                shape=(self.vocabulary_size,), initializer="zeros", name="output_bias"
            )
        self._run_sequence(ops.ones((1, 2), dtype="int32"))
        self.built = True

    # ------------------------------------------------------------------------ pieces
    def project(self, outputs):
        """Recurrent outputs [..., units] → logits [..., V]."""
        if not self.tie_weights:
            return self.output_layer(outputs)
        if self.tied_projection is not None:
            outputs = self.tied_projection(outputs)
        return ops.matmul(outputs, ops.transpose(self.embedding.embeddings)) + self.output_bias

    def forbid_special_tokens(self, logits):
        """Sets the logits of padding and ``<s>`` to -inf so that generation never produces
        them, at any temperature and in any float dtype (training leaves them be: they are
        never targets)."""
        return forbid_ids(logits, [PAD_ID, START_ID], self.vocabulary_size)

    def run_sequence(self, ids, initial_state=None, training=False):
        """Runs the model over ids [B, T]: returns ``(logits [B, T, V], states)``.

        ``states[l]`` holds the final states of level ``l`` after each row's last non-padding
        token (a row of padding only keeps ``initial_state``, zeros by default). A model not
        built yet is built first (a tied model's output bias was missing: AttributeError).
        """
        self._ensure_built()
        return self._run_sequence(ids, initial_state, training)

    def _run_sequence(self, ids, initial_state=None, training=False):
        ids, embedded = embed_ids(self.embedding, ids, self.vocabulary_size, "ids")
        if len(ids.shape) != 2:
            raise ValueError(f"`ids` must be int ids of shape [batch, length], got {ids.shape}.")
        mask = ops.not_equal(ids, PAD_ID)
        embedded = self.embedding_dropout(embedded, training=training)
        outputs, states = self.stack(
            embedded, initial_state=initial_state, mask=mask, training=training
        )
        outputs = self.output_dropout(outputs, training=training)
        return self.project(outputs), states

    def call(self, inputs, training=False):
        return self.run_sequence(inputs, training=training)[0]

    # ------------------------------------------------------------------------ decoding
    def step(self, ids, states):
        """One step of every level on token ids [B]: ``(logits [B, V], new_states)``."""
        self._ensure_built()  # the embedding's weights are read directly
        # A plain lookup: the Embedding layer would attach a Keras mask the cells ignore.
        x = ops.take(self.embedding.embeddings, ids, axis=0)
        new_states = []
        for index, level in enumerate(self.stack.levels):
            x, level_states = level.cell(x, list(states[index]))
            new_states.append(list(level_states))
        return self.project(x), new_states

    def generate_step(self):
        """The step function ``(ids, state, index) -> (logits, state)`` a decoding strategy
        drives; padding and ``<s>`` are forbidden."""

        def step(ids, state, index):
            logits, state = self.step(ids, state)
            return self.forbid_special_tokens(logits), state

        return step

    def prompt_state(self, prompt_ids):
        """Consumes prompts ``<s> w_1 … w_n`` (int ids [B, T], padded with 0 on either side).

        Runs the stack over every token but the last non-padding one of each row and returns
        ``(last_ids [B], states)``: decoding continues by feeding ``last_ids``. Padding is
        skipped wherever it is, as `call` skips it: a left-padded prompt ``0 0 <s> w_1``
        continues from ``w_1`` (it was read as right-padded: the stack ran over padding
        only and decoding continued from ``<s>``, silently another continuation). The ids are
        checked as the model's `call` checks them (see `token_ids`), the last one of each row
        included: it was fed to the decoding step unchecked, so a last id of -1 continued from
        the embedding's last row, 2**32 + 5 (int64) from id 5 and 5.5 from id 5, silently.
        Under XLA, which drops the check, a bad id makes the states NaN.
        """
        prompt_ids, fine = token_ids(prompt_ids, self.vocabulary_size, "prompt_ids")
        if len(prompt_ids.shape) != 2:
            raise ValueError(
                f"`prompt_ids` must be int ids of shape [batch, length], got {prompt_ids.shape}."
            )
        positions = tf.range(tf.shape(prompt_ids)[1])[None, :]
        # The position of each row's last real token (-1 in a row of padding only).
        last = tf.reduce_max(tf.where(prompt_ids != PAD_ID, positions, -1), axis=1)
        last_ids = tf.gather(prompt_ids, tf.maximum(last, 0), batch_dims=1)
        prefix = tf.where(positions == last[:, None], PAD_ID, prompt_ids)
        _, states = self.run_sequence(prefix)
        return last_ids, tf.nest.map_structure(lambda state: poisoned(state, fine), states)

    def decode(
        self, prompt_ids, strategy, max_length, seed=None, min_length=0, max_length_bound=None
    ):
        """Runs ``strategy`` (a `GreedySearch`) after the prompts; returns its `DecodingResult`.

        ``max_length`` is the most new tokens per prompt, ``</s>`` included: an int, or an int
        tensor ``[]`` / ``[B]``, which inside a `tf.function` needs the static
        ``max_length_bound`` (the length of the output buffers). ``min_length`` new tokens
        at least come before ``</s>``. ``seed`` seeds a sampling selector (None: a fresh one
        at each call).
        """
        last_ids, states = self.prompt_state(prompt_ids)
        return strategy(
            self.generate_step(),
            last_ids,
            END_ID,
            states,
            max_length=max_length,
            min_length=min_length,
            seed=seed,
            max_length_bound=max_length_bound,
        )

    def _require_tokenizer(self, method):
        if self.tokenizer is None:
            raise ValueError(f"`{method}` needs the model to be built with a `tokenizer`.")

    def _ensure_built(self):
        # Decoding reads weights directly (the embedding, the tied output bias), which only
        # `build` creates: a fresh model is built here, eagerly, not inside a traced function.
        if not self.built:
            self.build()

    def prompt_ids_from_text(self, texts, max_prompt_length=None):
        """Graph-friendly: tf.string [B] → ``<s>`` + the prompt's ids, [B, T] padded with 0
        (T >= 1, also for an empty batch). With ``max_prompt_length`` (None or an int >= 1)
        a longer prompt keeps ``<s>`` and its last ``max_prompt_length`` tokens: the context
        nearest to the continuation."""
        max_prompt_length = check_optional_length(max_prompt_length, "max_prompt_length")
        ids = self.tokenizer.tokenize(texts, add_start=True)
        if max_prompt_length is not None:
            ids = tf.concat([ids[:, :1], ids[:, 1:][:, -max_prompt_length:]], axis=1)
        ids = ids.to_tensor(PAD_ID)
        # Every prompt has <s>, but an empty batch has no column and the stack needs a step.
        return tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])

    def generate_text(self, texts, strategy, max_length, seed=None, max_prompt_length=None):
        """Graph-friendly generation from tf.string prompts [B].

        Returns a dict of ``text`` (prompt followed by its continuation) and ``continuation``,
        tf.string [B], ``log_probability`` float32 [B] (of the continuation, ``</s>`` included)
        and ``length`` int32 [B] (new tokens). ``max_prompt_length``: see
        `prompt_ids_from_text`; the prompt part of ``text`` is then the part that was read.
        """
        prompt_ids = self.prompt_ids_from_text(texts, max_prompt_length)
        result = self.decode(prompt_ids, strategy, max_length, seed)
        generated = result.ids[:, 0]
        prompt = tf.RaggedTensor.from_tensor(prompt_ids[:, 1:], padding=PAD_ID)
        continued = tf.concat([prompt, tf.RaggedTensor.from_tensor(generated)], axis=1)
        return {
            # An empty prompt would leave the space before the first generated word.
            "text": tf.strings.strip(self.tokenizer.detokenize(continued)),
            "continuation": self.tokenizer.detokenize(generated),
            "log_probability": result.log_probs[:, 0],
            "length": result.lengths[:, 0],
        }

    def generate(
        self,
        prompts,
        max_length=50,
        temperature=None,
        top_k=None,
        top_p=None,
        seed=None,
        return_continuation=False,
        max_prompt_length=None,
    ):
        """Continues raw-string prompts until ``</s>`` or ``max_length`` new tokens.

        An empty (or all-whitespace) prompt starts from ``<s>`` alone (unconditional
        generation); unseen words go through the tokenizer's unknown/byte fallback.

        Args:
            prompts: a string or a list of strings.
            max_length: int >= 1. The most new tokens per prompt (``</s>`` included).
            temperature: float >= 0 or None. None or 0 without ``top_k``/``top_p``: greedy.
            top_k: optional int. Sample among the ``top_k`` most likely tokens.
            top_p: optional float in (0, 1]. Nucleus sampling.
            seed: optional int in [-2**63, 2**63 - 1]. Fixes the draws of a sampling setting
                (same seed, same prompts, same texts). The draws are made for the whole
                batch at once, so a prompt's text depends on its row: the same prompt at
                another position of a batch (second alone, say) draws differently.
            return_continuation: bool. Return only the generated continuation instead of
                prompt + continuation. The prompt part is the prompt as the model read it
                (its ids detokenized): normalized, lowercased by a lowercasing tokenizer, and
                with `<unk>` for words outside a word vocabulary.
            max_prompt_length: None (the whole prompt) or an int >= 1: a longer prompt is
                read from ``<s>`` and its last ``max_prompt_length`` tokens, as the serving
                signatures read it (``max_prompt_length=256`` there), so that a served
                answer can be reproduced; the prompt part of the text is then that part.

        Returns:
            A list of strings, one per prompt.
        """
        self._require_tokenizer("generate")
        prompts = check_texts(prompts, "prompts")
        max_length = _check_max_length(max_length)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"`seed` must be an int or None, got {seed!r}.")
        seed = None if seed is None else int(seed)
        if seed is not None and not -(2**63) <= seed < 2**63:
            # The seed is an int64 tensor, as the stateless random ops take it.
            raise ValueError(f"`seed` must be an int in [-2**63, 2**63 - 1], got {seed}.")
        # A str "no" or "yes" read as true: the prompt was silently left out.
        return_continuation = check_bool(return_continuation, "return_continuation")
        max_prompt_length = check_optional_length(max_prompt_length, "max_prompt_length")
        selector = select_tokens(temperature, top_k, top_p)
        self._ensure_built()
        strategy = GreedySearch(selector)
        generate = self._generators.compiled(
            ("text", repr(selector), max_length, max_prompt_length),
            lambda texts, seed: self.generate_text(
                texts, strategy, max_length, seed, max_prompt_length
            ),
            [tf.TensorSpec([None], tf.string), tf.TensorSpec([2], tf.int64)],
        )
        if seed is None:
            seed = np.random.default_rng().integers(0, 2**31 - 1, size=2)
        else:
            seed = [seed, 0]
        outputs = generate(string_constant(prompts), tf.constant(seed, tf.int64))
        strings = outputs["continuation" if return_continuation else "text"].numpy()
        return [s.decode("utf-8") for s in strings]

    # ------------------------------------------------------------------------- serving
    def serving_signatures(self, max_length=50, max_prompt_length=256):
        """String-in / string-out signatures for `keras_seq.export.export` (TF Serving).

        - ``generate(prompt)`` and ``serving_default(prompt)``: greedy continuation of
          ``prompt`` [B] up to ``max_length`` new tokens; ``text`` [B] (prompt +
          continuation), ``continuation`` [B], ``log_probability`` [B], ``length`` [B].
          A prompt longer than ``max_prompt_length`` tokens (None: no bound) is read from its
          last ``max_prompt_length`` tokens, so one request's RNN work stays finite whatever
          its length; the prompt part of ``text`` is the part that was read.
        """
        self._require_tokenizer("serving_signatures")
        max_length = _check_max_length(max_length)
        max_prompt_length = check_optional_length(max_prompt_length, "max_prompt_length")
        self._ensure_built()
        prompt = tf.TensorSpec([None], tf.string, name="prompt")
        strategy = GreedySearch()

        def generate(prompt):
            return self.generate_text(
                prompt, strategy, max_length, max_prompt_length=max_prompt_length
            )

        return {
            "serving_default": (generate, [prompt]),
            "generate": (generate, [prompt]),
        }

    def serving_examples(self):
        """Warm-up inputs of every signature (openings of Moby Dick, and an empty prompt)."""
        prompts = ["Call me", "It was the", ""]
        return {name: {"prompt": prompts} for name in ("serving_default", "generate")}

    # ----------------------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "units": self.units,
                "num_layers": self.num_layers,
                "cell": self.cell,
                "dropout": self.dropout,
                "tie_weights": self.tie_weights,
                "tokenizer": None
                if self.tokenizer is None
                else keras.saving.serialize_keras_object(self.tokenizer),
            }
        )
        return config
