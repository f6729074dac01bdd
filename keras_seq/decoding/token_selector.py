"""Base class of the token selectors: logits in, next token ids out."""

import keras
import tensorflow as tf

from keras_seq.decoding.decoding_strategy import _check_seed


@keras.saving.register_keras_serializable(package="keras_seq")
class TokenSelector:
    """Chooses the next token of every row from that row's logits.

    A selector knows nothing of models or of the search loop: it maps a
    `[N, V]` block of logits (and, when it draws at random, a stateless seed)
    to `[N]` token ids. `GreedySearch` calls it once per step; greedy decoding
    and sampling are the same loop with a different selector.

    Subclasses implement `select`. Stochastic selectors set `stochastic = True`
    and draw only through stateless random ops, so a given seed gives the same
    tokens eagerly, under `tf.function` and in an exported SavedModel. XLA
    (`jit_compile=True`) draws with another algorithm: a seed is reproducible
    there too, from the same distribution, but gives other tokens than without
    XLA. XLA compiles `Assert` ops out: under it a row no token can be chosen
    from (NaN or `+inf` logits, only `-inf`) raises nothing, and the selector
    answers an unspecified (in-range) id for it.

    Call arguments:
        logits: float tensor `[N, V]`. Unnormalized scores of the next token.
        seed: None, an int, or an int tensor of shape `[]` or `[2]` (as for
            `DecodingStrategy`). Seed of the stateless draw; ignored by
            deterministic selectors. A stochastic selector given no seed draws
            one at random.

    Returns:
        int32 tensor `[N]`: the chosen token ids.
    """

    stochastic = False

    def __call__(self, logits, seed=None):
        logits = tf.convert_to_tensor(logits)
        if not logits.dtype.is_floating:
            raise TypeError(f"`logits` must be a float tensor, got dtype {logits.dtype.name}.")
        if logits.shape.rank is not None and logits.shape.rank != 2:
            raise ValueError(
                f"`logits` must have shape [batch, vocabulary], got shape {logits.shape}."
            )
        if logits.shape.rank == 2 and logits.shape[-1] == 0:
            raise ValueError(
                f"`logits` must have at least one token (vocabulary size >= 1), got shape "
                f"{logits.shape}."
            )
        logits = tf.cast(logits, tf.float32)
        seed = _selector_seed(seed)
        if self.stochastic and seed is None:
            seed = tf.random.uniform([2], maxval=tf.int32.max, dtype=tf.int32)
        return tf.cast(self.select(logits, seed), tf.int32)

    def select(self, logits, seed):
        """Returns the `[N]` ids chosen from float32 `logits` `[N, V]`."""
        raise NotImplementedError(f"{type(self).__name__} must implement `select`.")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


def _selector_seed(seed):
    """The seed forms the searches take (None, an int, an int tensor `[]` or `[2]`), checked
    with errors naming `seed` rather than the random op's. An int32 or int64 seed of shape
    `[2]` passes unchanged (its dtype kept: XLA draws only from int32 seeds, as
    `GreedySearch` gives its selector)."""
    if tf.is_tensor(seed) and seed.dtype in (tf.int32, tf.int64) and seed.shape == (2,):
        return seed
    return _check_seed(seed)
