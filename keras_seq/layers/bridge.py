"""Maps the final states of an encoder stack to the initial states of a decoder stack."""

import numbers

import keras
import numpy as np
from keras import ops

from keras_seq._checked_ids import check_bool

BRIDGE_MODES = ("copy", "dense", "zeros")


def merge_directions(level_states, bidirectional):
    """A bidirectional level's ``[f_1..f_n, b_1..b_n]`` → ``[concat(f_i, b_i)]``."""
    if not bidirectional:
        return list(level_states)
    if len(level_states) % 2:
        raise ValueError(
            "A bidirectional encoder level gives its forward states then its backward states, "
            f"an even number; got {len(level_states)} state(s)."
        )
    half = len(level_states) // 2
    return [
        ops.concatenate([f, b], axis=-1)
        for f, b in zip(level_states[:half], level_states[half:], strict=True)
    ]


@keras.saving.register_keras_serializable(package="keras_seq")
class Bridge(keras.layers.Layer):
    """Encoder final states → decoder initial states (OpenNMT-tf's bridges).

    The encoder gives, per level, its final states (a bidirectional level: forward states then
    backward states, first merged by concatenation: ``s = [s^f ; s^b]``). Then:

    - ``copy``: decoder level ``l`` starts from the (merged) states of the encoder level at the
      same distance from the top, ``s^dec_l = s^enc_{L_enc − L_dec + l}``; decoder levels
      below the encoder's depth start from zeros. Sizes must match (e.g. a bidirectional
      encoder of ``u/2`` units per direction feeds a decoder of ``u`` units).
    - ``dense``: every decoder state is a linear map of all encoder states concatenated,
      ``s^dec_{l,i} = W_{l,i} [s^enc_1; …; s^enc_L] + b_{l,i}`` (any depths and sizes).
    - ``zeros``: every decoder state is zero.

    Args:
        mode: "copy", "dense" or "zeros".
        decoder_state_sizes: list per decoder level of the sizes of its states (positive
            integers), e.g. ``[[256, 256], [256, 256]]`` for two LSTM levels (a NumPy array
            of them too).
        bidirectional: bool. Whether the encoder levels are bidirectional.

    Call arguments:
        encoder_states: list per encoder level of its list of final state tensors [B, size].

    Returns:
        A list per decoder level of its list of initial state tensors [B, size].

    Example:
    >>> bridge = Bridge("dense", decoder_state_sizes=[[8, 8]], bidirectional=True)
    >>> states = bridge([[np.ones((2, 4))] * 4, [np.ones((2, 4))] * 4])
    >>> [tuple(s.shape) for s in states[0]]
    [(2, 8), (2, 8)]
    """

    def __init__(self, mode="copy", decoder_state_sizes=None, bidirectional=False, **kwargs):
        super().__init__(**kwargs)
        if mode not in BRIDGE_MODES:
            raise ValueError(f"`mode` must be one of {BRIDGE_MODES}, got mode={mode!r}.")
        # A NumPy array of sizes (its levels too) as the lists it holds: its truth value
        # failed with "The truth value of an array ... is ambiguous", naming no argument.
        if isinstance(decoder_state_sizes, np.ndarray):
            decoder_state_sizes = decoder_state_sizes.tolist()
        if isinstance(decoder_state_sizes, (list, tuple)):
            decoder_state_sizes = [
                level.tolist() if isinstance(level, np.ndarray) else level
                for level in decoder_state_sizes
            ]
        if not decoder_state_sizes or not all(
            isinstance(level, (list, tuple))
            and level
            and all(
                isinstance(size, numbers.Integral) and not isinstance(size, bool) and size > 0
                for size in level
            )
            for level in decoder_state_sizes
        ):
            raise ValueError(
                "`decoder_state_sizes` must list, per decoder level, the sizes of its states "
                f"(e.g. [[256, 256]] for one LSTM level), got {decoder_state_sizes!r}."
            )
        self.mode = mode
        self.decoder_state_sizes = [[int(size) for size in level] for level in decoder_state_sizes]
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self.projections = []
        if mode == "dense":
            self.projections = [
                [
                    # The bridge's policy, not the global one: "dense" returns the dtype that
                    # "copy" and "zeros" return.
                    keras.layers.Dense(size, name=f"level_{l}_state_{i}", dtype=self.dtype_policy)
                    for i, size in enumerate(lv)
                ]
                for l, lv in enumerate(self.decoder_state_sizes)
            ]

    def build(self, encoder_states_shape):
        if self.mode == "dense":
            width = sum(shape[-1] for level in encoder_states_shape for shape in level)
            for level in self.projections:
                for projection in level:
                    projection.build((None, width))

    def call(self, encoder_states):
        if not encoder_states or not all(
            isinstance(level, (list, tuple)) and level for level in encoder_states
        ):
            raise ValueError(
                "`encoder_states` must list, per encoder level, the list of its final states "
                "(at least one level and one state each), got levels "
                f"{[type(level).__name__ for level in encoder_states]}."
            )
        merged = [merge_directions(level, self.bidirectional) for level in encoder_states]
        batch = ops.shape(merged[-1][0])[0]
        if self.mode == "zeros":
            return [
                [ops.zeros((batch, size), dtype=self.compute_dtype) for size in level]
                for level in self.decoder_state_sizes
            ]
        if self.mode == "dense":
            flat = ops.concatenate([s for level in merged for s in level], axis=-1)
            return [[projection(flat) for projection in level] for level in self.projections]
        return self._copy(merged, batch)

    def _copy(self, merged, batch):
        offset = len(merged) - len(self.decoder_state_sizes)
        states = []
        for index, sizes in enumerate(self.decoder_state_sizes):
            source = index + offset
            if source < 0:
                states.append(
                    [ops.zeros((batch, size), dtype=self.compute_dtype) for size in sizes]
                )
                continue
            level = merged[source]
            got = [s.shape[-1] for s in level]
            if got != list(sizes):
                raise ValueError(
                    f"Bridge(mode='copy'): decoder level {index} has state sizes {list(sizes)} "
                    f"but encoder level {source} gives {got}"
                    + (" (forward and backward concatenated)" if self.bidirectional else "")
                    + "; use mode='dense' or matching units."
                )
            states.append(list(level))
        return states

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mode": self.mode,
                "decoder_state_sizes": self.decoder_state_sizes,
                "bidirectional": self.bidirectional,
            }
        )
        return config
