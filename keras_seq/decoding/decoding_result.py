"""The outputs of a decoding strategy."""

from typing import Any, NamedTuple


class DecodingResult(NamedTuple):
    """Hypotheses found by a `DecodingStrategy`, best first.

    `B` is the batch size, `N` the number of hypotheses per example
    (`BeamSearch.n_best`, 1 for `GreedySearch`), `T` the static length bound
    (above 1024 steps, outside XLA: the number of steps the search ran, see
    `DecodingStrategy`) and `S` the source length of the attention. A namedtuple, so it passes
    through `tf.nest` and can be returned from a `tf.function`; `to_dict()`
    gives the dense, batch-major tensors a serving signature returns.

    Attributes:
        ids: int32 `[B, N, T]`. Token ids; the end token, when the hypothesis
            produced one, is at position `lengths - 1`; positions from
            `lengths` on hold 0.
        lengths: int32 `[B, N]`. Number of generated tokens, the end token
            included (a hypothesis stopped by `max_length` has no end token).
        scores: float32 `[B, N]`. The score hypotheses are ranked by:
            `log_probs / lp(lengths) + coverage penalty` for `BeamSearch`,
            `log_probs` for `GreedySearch`. `-inf` marks a slot no valid
            hypothesis could fill (more beams than possible sequences); such a
            slot holds no tokens: ids, token scores and alignments 0, length 0.
        log_probs: float32 `[B, N]`. Sum of the token log-probabilities.
        token_scores: float32 `[B, N, T]`. Log-probability of each token
            under the model (`log_softmax` of the step's logits, before any
            temperature or truncation); 0 after the end.
        alignments: float32 `[B, N, T, S]` or None. The attention the step
            returned for each generated token (0 after the end); None when the
            step returns no attention.
        state: the decoder state after the last step, every tensor with
            `B * N` rows (row `b * N + j` belongs to hypothesis `j` of example
            `b`). Rows of hypotheses that ended early kept being fed the end
            token until the loop stopped.
    """

    ids: Any
    lengths: Any
    scores: Any
    log_probs: Any
    token_scores: Any
    alignments: Any = None
    state: Any = None

    def to_dict(self):
        """The dense batch-major outputs, without `state` and without absent alignments."""
        outputs = {
            "ids": self.ids,
            "lengths": self.lengths,
            "scores": self.scores,
            "log_probs": self.log_probs,
            "token_scores": self.token_scores,
        }
        if self.alignments is not None:
            outputs["alignments"] = self.alignments
        return outputs
