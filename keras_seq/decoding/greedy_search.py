"""Token-by-token decoding with one hypothesis per example."""

import keras
import tensorflow as tf

from keras_seq.decoding._ops import NEGATIVE_INFINITY, without_nan, write_time_step
from keras_seq.decoding.argmax_selector import ArgmaxSelector
from keras_seq.decoding.decoding_result import DecodingResult
from keras_seq.decoding.decoding_strategy import DecodingStrategy
from keras_seq.decoding.token_selector import TokenSelector


@keras.saving.register_keras_serializable(package="keras_seq")
class GreedySearch(DecodingStrategy):
    """Chooses each token with a `TokenSelector`, one hypothesis per example.

    At step `t`, `y_t = selector(logits_t)` with `logits_t = step(y_{t-1},
    state_{t-1}, t)`; greedy decoding (`ArgmaxSelector`) and sampling
    (`TemperatureSampler`, `TopKSampler`, `TopPSampler`) are this same loop.
    Random selectors draw at step `t` with the stateless seed
    `fold_in(seed, t)`, so a seed fixes the whole sequence.

    The end token is masked (its logit set to `-inf`) while `t < min_length`.
    `log_probs` and `token_scores` are log-probabilities under the model,
    `log_softmax(logits_t)[y_t]`, whatever the selector drew from; `scores`
    equals `log_probs`. `N = 1` hypothesis per example.

    A live row whose logits hold NaN or `+inf` (its log-probabilities would
    all be NaN), and one left no token with a finite logit once `min_length`
    masks the end token, raise `InvalidArgumentError` naming the cause.

    Args:
        selector: a `TokenSelector`. Defaults to `ArgmaxSelector()`.

    Call arguments and returns: see `DecodingStrategy`.

    Example:

    >>> table = tf.math.log([[0.1, 0.6, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    >>> def step(ids, state, index):
    ...     return tf.gather(table, ids), state
    >>> result = GreedySearch()(step, tf.constant([0]), end_id=2, initial_state=(),
    ...                         max_length=4)
    >>> result.ids.numpy()
    array([[[1, 2, 0, 0]]], dtype=int32)
    """

    def __init__(self, selector=None):
        if selector is None:
            selector = ArgmaxSelector()
        if not isinstance(selector, TokenSelector):
            raise TypeError(f"`selector` must be a TokenSelector, got {selector!r}.")
        self.selector = selector

    @property
    def _stochastic(self):
        return self.selector.stochastic

    @property
    def n_best(self):
        """Number of hypotheses returned per example: always 1."""
        return 1

    def _search(
        self, step, start_ids, end_id, initial_state, max_lengths, min_lengths, seed, max_steps
    ):
        if self.selector.stochastic and seed is None:
            seed = tf.random.uniform([2], maxval=tf.int32.max, dtype=tf.int32)

        buffer_steps = self._buffer_steps(max_steps)

        def initialize(logits, attention):
            batch_size = tf.shape(logits)[0]
            variables = {
                "finished": tf.zeros([batch_size], tf.bool),
                "lengths": tf.zeros([batch_size], tf.int32),
                "log_probs": tf.zeros([batch_size], tf.float32),
                "ids": tf.zeros([batch_size, buffer_steps], tf.int32),
                "token_scores": tf.zeros([batch_size, buffer_steps], tf.float32),
            }
            if attention is not None:
                source_length = tf.shape(attention)[-1]
                variables["alignments"] = tf.zeros([batch_size, buffer_steps, source_length])
            return variables

        def advance(index, logits, attention, variables, state):
            ended = variables["finished"]  # ended before this step: frozen
            is_end = tf.equal(tf.range(tf.shape(logits)[-1]), end_id)
            too_short = tf.less(index, min_lengths)[:, None]
            # A row that has ended is fed the end token and its choice is dropped: the
            # selector sees zeros there, not the step's logits after the end (which may have
            # nothing to choose, e.g. a model under which nothing follows the end token, or
            # only the end token, masked by `min_length`), which it would refuse.
            masked = ended[:, None] | (too_short & is_end[None, :])
            fill = tf.where(ended, 0.0, NEGATIVE_INFINITY)[:, None]
            allowed = tf.where(masked, fill, logits)
            step_seed = (
                tf.random.experimental.stateless_fold_in(seed, index)
                if self.selector.stochastic
                else None
            )
            check = _min_length_leaves_a_choice(~ended & too_short[:, 0], logits, allowed)
            with tf.control_dependencies([check]):
                tokens = self.selector(allowed, step_seed)
            token_log_probs = tf.gather(tf.nn.log_softmax(logits), tokens, batch_dims=1)

            kept_tokens = tf.where(ended, 0, tokens)
            kept_log_probs = tf.where(ended, 0.0, token_log_probs)
            # NaN or +inf among a live row's logits makes every log-probability of the row
            # NaN (ArgmaxSelector takes a +inf as the best token): refuse it, as BeamSearch
            # does, rather than answer NaN scores.
            kept_log_probs = without_nan(
                kept_log_probs,
                "GreedySearch: the step's logits of a live row hold NaN or +inf, so the chosen "
                "token's log-probability is undefined",
            )
            new = {
                "finished": ended | tf.equal(tokens, end_id) | (index + 1 >= max_lengths),
                "lengths": tf.where(ended, variables["lengths"], index + 1),
                "log_probs": variables["log_probs"] + kept_log_probs,
                "ids": write_time_step(variables["ids"], index, kept_tokens, 1),
                "token_scores": write_time_step(
                    variables["token_scores"], index, kept_log_probs, 1
                ),
            }
            if attention is not None:
                kept_attention = tf.where(ended[:, None], 0.0, attention)
                new["alignments"] = write_time_step(
                    variables["alignments"], index, kept_attention, 1
                )
            next_ids = tf.where(ended, end_id, tokens)
            return new, next_ids, state

        variables, state = self._run_loop(
            step, start_ids, initial_state, end_id, max_steps, initialize, advance, time_axis=1
        )
        alignments = variables.get("alignments")
        return DecodingResult(
            ids=variables["ids"][:, None],
            lengths=variables["lengths"][:, None],
            scores=variables["log_probs"][:, None],
            log_probs=variables["log_probs"][:, None],
            token_scores=variables["token_scores"][:, None],
            alignments=None if alignments is None else alignments[:, None],
            state=state,
        )

    def get_config(self):
        return {"selector": keras.saving.serialize_keras_object(self.selector)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["selector"] = keras.saving.deserialize_keras_object(config["selector"])
        return cls(**config)


def _min_length_leaves_a_choice(short_rows, logits, allowed):
    """An op that fails when `min_length` masked the end token of a live row (``short_rows``:
    live and shorter than its `min_length`) whose only finite logit it was (e.g. a vocabulary
    of one token): the selector would otherwise blame the logits. Runs its reductions only
    at steps where some row is such a row."""

    def check():
        stuck = (
            short_rows
            & ~tf.reduce_any(tf.math.is_finite(allowed), axis=-1)
            & tf.reduce_any(tf.math.is_finite(logits), axis=-1)
        )
        return tf.debugging.assert_equal(
            tf.reduce_any(stuck),
            False,
            message=(
                "GreedySearch: `min_length` forbids the end token at this step, and the step's "
                "logits give no other token a finite score"
            ),
        )

    return tf.cond(tf.reduce_any(short_rows), check, tf.no_op)
