"""Beam search with length and coverage penalties and n-best output."""

import numbers

import keras
import tensorflow as tf

from keras_seq.decoding._ops import (
    FLOAT32_MAX,
    NEGATIVE_INFINITY,
    top_k,
    without_nan,
    write_time_step,
)
from keras_seq.decoding.average_length_penalty import AverageLengthPenalty
from keras_seq.decoding.decoding_result import DecodingResult
from keras_seq.decoding.decoding_strategy import DecodingStrategy
from keras_seq.decoding.gnmt_length_penalty import GNMTLengthPenalty
from keras_seq.decoding.length_penalty import LengthPenalty
from keras_seq.decoding.tile_to_beam import tile_to_beam


@keras.saving.register_keras_serializable(package="keras_seq")
class BeamSearch(DecodingStrategy):
    """Keeps the `beam_size` best hypotheses of each example at every step.

    The `B` examples × `k` beams run as `B * k` rows of one batch: the
    strategy tiles `start_ids` and `initial_state` with `tile_to_beam` (row
    `b * k + j` is beam `j` of example `b`), and the step must close over
    tensors tiled the same way (e.g. `tile_to_beam(encoder_outputs, k)`).

    At step `t` every live hypothesis `Y` is extended by every token `v` and
    the `k` best of the `k × V` candidates are kept, ranked by the GNMT score
    (Wu et al., 2016, eq. 14)

        s(Y) = log P(Y) / lp(|Y|) + cp(Y)  if Y is complete,
        s(Y) = log P(Y) / lp(|Y|)          otherwise,
        cp(Y) = beta * sum_j log(min(sum_t a_{t,j}, 1)),

    where `|Y|` counts the end token, `a_{t,j}` is the attention the step
    returned at step `t` on source position `j` (positions never attended,
    e.g. padding, count as covered), and a hypothesis is complete once it has
    produced the end token or `max_length` tokens. A complete hypothesis stays
    in the beam, frozen: its only continuation repeats it with the same score,
    so it competes with live ones until the end. The search stops when all
    `k` beams of every example are complete; the first `n_best` are returned,
    best first. At step 0 only the first copy of each example is expanded, so
    no hypothesis appears twice. A slot no valid hypothesis can fill (fewer
    hypotheses than beams) has score `-inf`, is complete at once, is fed
    the end token and holds no tokens (ids and token scores 0, length 0). A
    live hypothesis whose logits are all `-inf` has no continuation; NaN or
    `+inf` logits raise `InvalidArgumentError`.

    Within one beam every token but the end token is scored by the same
    increasing function of its log-probability, so a beam contributes at most
    its `k` best non-end tokens and its end token to the survivors. When the
    logits' vocabulary size `V` is known and `V >= k + 2`, the search scores
    only those `k + 2` candidates a beam (found with one `top_k` and one
    log-sum-exp over the `V` logits) instead of all `V` tokens; the result is
    the same, ties included (lower beam, then lower token id first).

    Args:
        beam_size: int in [1, 2**31 - 1]. Number of hypotheses kept per example.
        length_penalty: None (no normalization), a `LengthPenalty`,
            `("gnmt", alpha)` for `GNMTLengthPenalty(alpha)` or `"average"`
            for `AverageLengthPenalty()`.
        coverage_penalty: float >= 0, finite in float32. The GNMT coverage weight `beta`; when
            > 0 the step must return attention.
        n_best: int in [1, beam_size]. Number of hypotheses returned.

    Call arguments and returns: see `DecodingStrategy`; `seed` is unused.

    Example:

    >>> table = tf.math.log(tf.constant([[0.1, 0.5, 0.4, 0.0], [0.25, 0.25, 0.25, 0.25],
    ...                                  [0.05, 0.05, 0.0, 0.9], [0.25, 0.25, 0.25, 0.25]])
    ...                     + 1e-9)
    >>> def step(ids, state, index):
    ...     return tf.gather(table, ids), state
    >>> result = BeamSearch(beam_size=2)(step, tf.constant([0]), end_id=3,
    ...                                  initial_state=(), max_length=3)
    >>> result.ids.numpy()  # 0.4 * 0.9 beats greedy's 0.5 * 0.25
    array([[[2, 3, 0]]], dtype=int32)
    """

    def __init__(self, beam_size, length_penalty=None, coverage_penalty=0.0, n_best=1):
        if isinstance(beam_size, bool) or not isinstance(beam_size, numbers.Integral):
            raise TypeError(f"`beam_size` must be an int >= 1, got {beam_size!r}.")
        if not 1 <= beam_size <= 2**31 - 1:
            # Shapes and offsets are int32 in the graph: 2**31 wrapped to a negative size
            # ("Dimension size ... must be non-negative" from one_hot, at trace).
            raise ValueError(f"`beam_size` must be >= 1 and <= 2**31 - 1, got {beam_size}.")
        if isinstance(n_best, bool) or not isinstance(n_best, numbers.Integral):
            raise TypeError(f"`n_best` must be an int, got {n_best!r}.")
        if not 1 <= n_best <= beam_size:
            raise ValueError(
                f"`n_best` must be in [1, beam_size={beam_size}], got n_best={n_best}."
            )
        if isinstance(coverage_penalty, bool) or not isinstance(coverage_penalty, numbers.Real):
            raise TypeError(f"`coverage_penalty` must be a float >= 0, got {coverage_penalty!r}.")
        if not 0 <= coverage_penalty <= FLOAT32_MAX:
            # An infinite weight times the log(1) = 0 of a covered source is NaN; so is a weight
            # above the float32 range (1e39), +inf once it multiplies the float32 coverage.
            raise ValueError(
                "`coverage_penalty` must be >= 0 and finite in float32 (<= 3.4e38), got "
                f"{coverage_penalty}."
            )
        self.beam_size = int(beam_size)
        self.length_penalty = _to_length_penalty(length_penalty)
        self.coverage_penalty = float(coverage_penalty)
        self.n_best = int(n_best)

    def _search(
        self, step, start_ids, end_id, initial_state, max_lengths, min_lengths, seed, max_steps
    ):
        beam_size = self.beam_size
        batch_size = tf.shape(start_ids)[0]
        beam_offsets = tf.range(batch_size)[:, None] * beam_size  # row of beam 0 of each example
        buffer_steps = self._buffer_steps(max_steps)

        def initialize(logits, attention):
            if self.coverage_penalty > 0 and attention is None:
                raise ValueError(
                    f"`coverage_penalty={self.coverage_penalty}` needs attention: the step "
                    "must return `(logits, state, attention)`."
                )
            shape = [batch_size, beam_size]
            first_beam_only = tf.one_hot(0, beam_size, on_value=0.0, off_value=NEGATIVE_INFINITY)
            variables = {
                "finished": tf.zeros(shape, tf.bool),
                "lengths": tf.zeros(shape, tf.int32),
                "log_probs": tf.tile(first_beam_only[None], [batch_size, 1]),
                "scores": tf.zeros(shape, tf.float32),
                "ids": tf.zeros(shape + [buffer_steps], tf.int32),
                "token_scores": tf.zeros(shape + [buffer_steps], tf.float32),
            }
            if attention is not None:
                source_length = tf.shape(attention)[-1]
                variables["alignments"] = tf.zeros(shape + [buffer_steps, source_length])
                variables["coverage"] = tf.zeros(shape + [source_length])
            return variables

        def candidates(logits):
            """`(log_probs, tokens, is_end, end_column)` of the candidates, each `[B, k, C]`.

            Within one beam every non-end token is scored by the same monotone map of its
            log-probability (one length and one coverage for the beam), so the `k` survivors
            of a beam are among its `k` best non-end tokens and its end token. When the
            vocabulary is known and larger than `k + 1`, those `k + 2` candidates per beam
            (the `k + 1` best logits, an end token among them masked, plus the end token)
            replace the `V` tokens: the elementwise work runs on `[B, k, k + 2]` instead of
            `[B, k, V]`, and only the log-sum-exp and one `top_k` read the whole row. The
            candidates are ordered by token id so ties break as over the whole vocabulary
            (lower beam, then lower token). `tokens` is None for the whole vocabulary.
            """
            vocabulary_size = logits.shape[-1]
            if vocabulary_size is None or vocabulary_size < beam_size + 2:
                vocabulary_size = vocabulary_size or tf.shape(logits)[-1]
                log_probs = logits - _log_normalizer(logits, tf.reduce_max(logits, -1, True))
                is_end = tf.equal(tf.range(vocabulary_size), end_id)
                # The vocabulary size, not -1: an empty batch (size unknown while tracing)
                # has no element to infer it from, and -1 would make it 0, which the
                # `[V]` end mask cannot broadcast against.
                shape = [batch_size, beam_size, vocabulary_size]
                return tf.reshape(log_probs, shape), None, is_end, is_end
            top_logits, top_tokens = top_k(logits, beam_size + 1)
            # The row maximum `tf.reduce_logsumexp` would compute, taken from `top_k`: the same
            # numbers, one pass over [rows, V] fewer.
            normalizer = _log_normalizer(logits, top_logits[:, :1])
            rows = tf.shape(logits)[0]
            tokens = tf.concat([top_tokens, tf.fill([rows, 1], end_id)], axis=-1)
            values = tf.concat([top_logits, logits[:, end_id : end_id + 1]], axis=-1)
            end_column = tf.concat(
                [tf.zeros_like(top_tokens, tf.bool), tf.ones([rows, 1], tf.bool)], axis=-1
            )
            is_end = tf.equal(tokens, end_id)
            # The end token among the best logits is a copy of the end column: drop it.
            log_probs = tf.where(is_end & ~end_column, NEGATIVE_INFINITY, values - normalizer)
            order = tf.argsort(tokens, axis=-1, stable=True)
            shape = [batch_size, beam_size, beam_size + 2]

            def arrange(tensor):
                return tf.reshape(tf.gather(tensor, order, batch_dims=1), shape)

            return arrange(log_probs), arrange(tokens), arrange(is_end), arrange(end_column)

        def advance(index, logits, attention, variables, state):
            log_probs, candidate_tokens, is_end, end_column = candidates(logits)
            too_short = tf.less(index, min_lengths)[:, None, None]
            log_probs = tf.where(too_short & is_end, NEGATIVE_INFINITY, log_probs)
            ended = variables["finished"]  # complete before this step: frozen
            # The one continuation of a complete hypothesis: itself, at no cost.
            frozen_row = tf.where(end_column, 0.0, NEGATIVE_INFINITY)
            log_probs = tf.where(ended[:, :, None], frozen_row, log_probs)

            totals = variables["log_probs"][:, :, None] + log_probs  # [B, k, C]
            lengths = tf.where(ended, variables["lengths"], index + 1)
            # A candidate of log-probability -inf (a masked token, an unfilled slot) scores -inf
            # whatever the divisor: a strong penalty overflows float32 on long hypotheses
            # (GNMT alpha = 200 at 8 tokens: lp = +inf), and -inf / inf is NaN, which the
            # ranking refuses as if the step's logits held it.
            scores = tf.where(
                tf.equal(totals, NEGATIVE_INFINITY),
                NEGATIVE_INFINITY,
                totals / self.length_penalty(lengths)[:, :, None],
            )
            reaches_max = (index + 1 >= max_lengths)[:, None, None]
            completes = ended[:, :, None] | is_end | reaches_max
            coverage = None
            if attention is not None:
                # The source length as a static size where known (a source of one position
                # must keep its 1, or the loop's shape check fails against the buffers').
                source_length = attention.shape[-1] or tf.shape(attention)[-1]
                attention = tf.reshape(attention, [batch_size, beam_size, source_length])
                attention = tf.where(ended[:, :, None], 0.0, attention)
                coverage = variables["coverage"] + attention
                if self.coverage_penalty > 0:
                    penalty = self.coverage_penalty * _gnmt_coverage(coverage)
                    scores += tf.where(completes, penalty[:, :, None], 0.0)
            # A complete hypothesis keeps the very score it was ranked by when it completed,
            # not one computed again: the vectorized `log` (and `pow`) kernels round a value
            # differently by its position in the tensor, so two frozen hypotheses tied at
            # completion (two tokens of one beam) drifted an ulp apart at the next steps and
            # swapped, by their batch row (a row decoded alone or among others ranked them
            # differently).
            scores = tf.where(
                ended[:, :, None],
                tf.where(end_column, variables["scores"][:, :, None], NEGATIVE_INFINITY),
                scores,
            )

            flat_scores = tf.reshape(scores, [batch_size, -1])
            # A NaN (from a NaN or +inf logit of a live hypothesis) has no place in the
            # ranking: `top_k` would order the other candidates wrongly around it.
            flat_scores = without_nan(
                flat_scores,
                "BeamSearch: the step's logits of a live hypothesis hold NaN or +inf (or its "
                "attention NaN), so its continuations cannot be ranked",
            )
            top_scores, top_indices = tf.math.top_k(flat_scores, k=beam_size)
            candidate_count = tf.shape(log_probs)[-1]
            origins = top_indices // candidate_count  # beam each survivor extends
            if candidate_tokens is None:  # the candidates are the whole vocabulary
                tokens = top_indices % candidate_count
            else:
                flat_tokens = tf.reshape(candidate_tokens, [batch_size, -1])
                tokens = tf.gather(flat_tokens, top_indices, batch_dims=1)

            def reorder(tensor):
                return tf.gather(tensor, origins, batch_dims=1)

            def pick(tensor):
                return tf.gather(tf.reshape(tensor, [batch_size, -1]), top_indices, batch_dims=1)

            was_ended = reorder(ended)
            kept_totals = pick(totals)
            # A survivor of log-probability -inf fills a slot no valid hypothesis could (more
            # beams than hypotheses): it is frozen at once and fed the end token, not the
            # token the step gave probability 0 (after which the step may have no answer).
            # Its history (the candidate's it was picked as, which repeated another
            # hypothesis beside a -inf score) is cleared once, after the loop: a slot of
            # log-probability -inf stays frozen at -inf.
            unfilled = tf.equal(kept_totals, NEGATIVE_INFINITY)
            dropped = was_ended | unfilled
            kept_tokens = tf.where(dropped, 0, tokens)
            kept_log_probs = tf.where(dropped, 0.0, pick(log_probs))

            new = {
                "finished": pick(completes) | unfilled,
                "lengths": reorder(lengths),
                "log_probs": kept_totals,
                "scores": top_scores,
                "ids": write_time_step(reorder(variables["ids"]), index, kept_tokens, 2),
                "token_scores": write_time_step(
                    reorder(variables["token_scores"]), index, kept_log_probs, 2
                ),
            }
            if attention is not None:
                new["coverage"] = reorder(coverage)
                new["alignments"] = write_time_step(
                    reorder(variables["alignments"]), index, reorder(attention), 2
                )
            rows = tf.reshape(beam_offsets + origins, [-1])
            state = tf.nest.map_structure(lambda tensor: tf.gather(tensor, rows), state)
            next_ids = tf.where(unfilled, end_id, tokens)
            return new, tf.reshape(next_ids, [-1]), state

        variables, state = self._run_loop(
            step,
            tile_to_beam(start_ids, beam_size),
            tile_to_beam(initial_state, beam_size),
            end_id,
            max_steps,
            initialize,
            advance,
            time_axis=2,
        )
        n_best = self.n_best
        best_rows = tf.reshape(beam_offsets + tf.range(n_best)[None, :], [-1])
        # A slot of log-probability -inf (no valid hypothesis could fill it, or its
        # hypothesis met all -inf logits) holds no tokens: its buffers, reordered with a real
        # hypothesis' history, are cleared here, once (during the loop the length penalty
        # must never see a length of 0).
        unfilled = tf.equal(variables["log_probs"][:, :n_best], NEGATIVE_INFINITY)

        def clear(tensor):
            """`tensor` `[B, n_best, ...]` with the rows of unfilled slots set to 0."""
            mask = unfilled[(...,) + (None,) * (tensor.shape.rank - 2)]
            return tf.where(mask, tf.zeros_like(tensor), tensor)

        alignments = variables.get("alignments")
        return DecodingResult(
            ids=clear(variables["ids"][:, :n_best]),
            lengths=clear(variables["lengths"][:, :n_best]),
            scores=variables["scores"][:, :n_best],
            log_probs=variables["log_probs"][:, :n_best],
            token_scores=clear(variables["token_scores"][:, :n_best]),
            alignments=None if alignments is None else clear(alignments[:, :n_best]),
            state=tf.nest.map_structure(lambda tensor: tf.gather(tensor, best_rows), state),
        )

    def get_config(self):
        return {
            "beam_size": self.beam_size,
            "length_penalty": keras.saving.serialize_keras_object(self.length_penalty),
            "coverage_penalty": self.coverage_penalty,
            "n_best": self.n_best,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["length_penalty"] = keras.saving.deserialize_keras_object(config["length_penalty"])
        return cls(**config)


def _log_normalizer(logits, row_max):
    """`log sum_v exp(logits[v])` of each row `[rows, 1]`, given the row maximum.

    `tf.reduce_logsumexp`, except that a row without a finite logit (the step allows no
    token after that hypothesis) gets 0, so its log-probabilities `logits - normalizer`
    are `-inf` (the hypothesis has no continuation) rather than NaN (`-inf - -inf`).
    """
    row_max = tf.where(tf.math.is_finite(row_max), row_max, tf.zeros_like(row_max))
    normalizer = tf.math.log(tf.reduce_sum(tf.exp(logits - row_max), -1, True)) + row_max
    return tf.where(tf.equal(normalizer, NEGATIVE_INFINITY), 0.0, normalizer)


def _gnmt_coverage(coverage):
    """`sum_j log(min(c_j, 1))` over the source positions, 0 for never-attended ones."""
    covered = tf.where(tf.equal(coverage, 0.0), 1.0, tf.minimum(coverage, 1.0))
    return tf.reduce_sum(tf.math.log(covered), axis=-1)


def _to_length_penalty(length_penalty):
    if length_penalty is None:
        return LengthPenalty()
    if isinstance(length_penalty, LengthPenalty):
        return length_penalty
    spec = (length_penalty,) if isinstance(length_penalty, str) else length_penalty
    if isinstance(spec, (tuple, list)) and spec:
        name, *arguments = spec
        if name == "gnmt" and len(arguments) == 1:
            return GNMTLengthPenalty(arguments[0])
        if name == "average" and not arguments:
            return AverageLengthPenalty()
    raise ValueError(
        "`length_penalty` must be None, a LengthPenalty, ('gnmt', alpha) or 'average', got "
        f"{length_penalty!r}."
    )
