"""Training throughput of keras_seq's recurrent layers against Keras and PyTorch, in one run.

A train step is forward + backward + Adam update of one recurrent layer (or stack) with
``return_sequences`` on a mean-square loss, float32, exactly the same harness for every
candidate: Keras layers under `tf.function`, PyTorch modules eagerly with 2 threads
(``torch.set_num_threads(2)``, ``--torch-threads`` to change it; oneDNN's whole-sequence
kernels). The steps of the candidates
of a row are interleaved (round-robin) so that machine noise hits all alike; we report the
median step time after warm-up as tokens/s = batch × length / median, the ratio ours /
reference (> 1 means we are faster), and the achieved GFLOP/s against the machine's matmul
ceiling measured at the start of the same run (the best ``tf.matmul`` time on the shapes of the
rows; the rows' medians can exceed it on a busy machine, whose load varies during a run).

FLOPs count the matmuls only, backward = 2 × forward: a layer with k gate blocks, input size
D and hidden size H costs ``3 · 2 · B · T · (D + H) · k · H`` per direction and level; each
candidate counts its own k (the LSTM references of the ``CoupledLSTM`` row 4, the coupled
cell 3).

Peak memory (``--memory``): each candidate of a row is built and stepped in its own
subprocess with TensorFlow's BFC allocator on the CPU (``TF_CPU_ALLOCATOR_USE_BFC=true``, the
only way TF keeps allocator statistics on a CPU); the number is the allocator's peak during
one train step minus what was allocated before it (weights, optimizer slots and inputs
excluded), i.e. the activations kept for the backward pass plus gradients and temporaries,
under the run's ``--dtype`` policy.
PyTorch's CPU allocator keeps no such statistics, so torch rows have no memory column. The
executor orders independent ops differently from process to process, which moves one probe
by up to 35%: each candidate is probed ``--memory-repeats`` times (default 5) and the table
gives the median and the range.

    python benchmarks/rnn_throughput.py                      # every layer at size C
    python benchmarks/rnn_throughput.py --sizes A B C --layers LSTM GRU --steps 20
    python benchmarks/rnn_throughput.py --memory --layers LSTM PeepholeLSTM
    python benchmarks/rnn_throughput.py --memory-only --layers LSTM GRU SimpleRNN
    python benchmarks/rnn_throughput.py --mask --layers LSTM GRU   # right-padded batches
    python benchmarks/rnn_throughput.py --dtype mixed_bfloat16 --layers LSTM
    python benchmarks/rnn_throughput.py --forward-only --sizes A --layers LSTM
    python benchmarks/rnn_throughput.py --bound --sizes A C B --layers LSTM GRU

``--bound`` adds a table of each single-layer row's matmul bound (`matmul_bound`): the time
of a train step made of nothing but its matmuls (in the ``--dtype`` policy's compute dtype),
each at its best time here on its own (the
serial step products ``h_{t-1} U`` and ``dz_t Uᵀ`` chained in a `tf.while_loop`, in the
fastest of the layouts the fused loops use; the products over all steps, ``x W``, ``dz
Wᵀ``, ``xᵀ dz``, ``hᵀ dz``, as single calls), printed as the candidate's throughput against
it ("keras_seq / bound") and as the largest ratio against each reference that any
implementation made of these matmuls could reach on this machine ("bound / reference").

``--forward-only`` times the layers' forward pass alone, as at inference (no gradient tape,
``training=False``; torch under ``no_grad``), with a third of a train step's FLOPs: it splits a
train-step ratio into its forward and (by difference) backward parts.

Torch runs with ``OMP_WAIT_POLICY=PASSIVE`` unless the variable is set (see below it).

Torch rows need ``torch`` importable (see benchmarks/README.md); without it they are skipped
with a message.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Idle OpenMP threads of torch sleep at once instead of spinning for a while after each
# parallel region: spinning threads would steal the cores from the next candidate's step in
# the interleaved loop (TensorFlow runs on its own thread pool and ignores this).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_seq  # noqa: E402
from keras_seq.cli import bounded_number  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

TORCH_THREADS = 2
SIZES = {  # name: (batch, length, input features, hidden units)
    "A": (64, 50, 128, 256),
    "B": (32, 100, 256, 512),
    "C": (64, 30, 256, 512),
    # A at twice the length: where the LSTM's peak once rose over Keras' (docs/benchmarks.md)
    "D": (64, 100, 128, 256),
}


# ------------------------------------------------------------------------------ candidates
class KerasStack(keras.layers.Layer):
    """Keras layers applied one after the other, passing the mask on (a 2-level reference)."""

    def __init__(self, levels, **kwargs):
        super().__init__(**kwargs)
        self.levels = levels

    def call(self, x, mask=None, training=None):
        for level in self.levels:
            x = level(x, mask=mask, training=training)
        return x


def _ours(family, units, **kwargs):
    return getattr(keras_seq.layers, family)(units, return_sequences=True, **kwargs)


def _keras(family, units):
    return getattr(keras.layers, family)(units, return_sequences=True)


# A row: (k gate blocks of keras_seq's layer, k of its references, directions, levels,
# keras_seq builder, references). A reference is (name, kind, builder): kind "keras" builds a
# Keras layer from `units`, "torch" a torch module from (features, units). The references of a
# variant row are plain LSTMs, so their FLOPs count 4 gate blocks, not the variant's.
ROWS = {
    "LSTM": (
        4,
        4,
        1,
        1,
        lambda u: _ours("LSTM", u),
        [
            ("keras.layers.LSTM", "keras", lambda u: _keras("LSTM", u)),
            ("torch.nn.LSTM", "torch", lambda d, u: torch.nn.LSTM(d, u, batch_first=True)),
        ],
    ),
    "GRU": (
        3,
        3,
        1,
        1,
        lambda u: _ours("GRU", u),
        [
            ("keras.layers.GRU", "keras", lambda u: _keras("GRU", u)),
            ("torch.nn.GRU", "torch", lambda d, u: torch.nn.GRU(d, u, batch_first=True)),
        ],
    ),
    "SimpleRNN": (
        1,
        1,
        1,
        1,
        lambda u: _ours("SimpleRNN", u),
        [
            ("keras.layers.SimpleRNN", "keras", lambda u: _keras("SimpleRNN", u)),
            ("torch.nn.RNN", "torch", lambda d, u: torch.nn.RNN(d, u, batch_first=True)),
        ],
    ),
    "PeepholeLSTM": (
        4,
        4,
        1,
        1,
        lambda u: _ours("PeepholeLSTM", u),
        [
            ("keras_seq LSTM", "keras", lambda u: _ours("LSTM", u)),
            ("keras.layers.LSTM", "keras", lambda u: _keras("LSTM", u)),
        ],
    ),
    "CoupledLSTM": (
        3,
        4,
        1,
        1,
        lambda u: _ours("CoupledLSTM", u),
        [
            ("keras_seq LSTM", "keras", lambda u: _ours("LSTM", u)),
            ("keras.layers.LSTM", "keras", lambda u: _keras("LSTM", u)),
        ],
    ),
    "BiLSTM": (
        4,
        4,
        2,
        1,
        lambda u: keras_seq.layers.Bidirectional(_ours("LSTM", u)),
        [
            (
                "keras Bidirectional(LSTM)",
                "keras",
                lambda u: keras.layers.Bidirectional(_keras("LSTM", u)),
            ),
            (
                "torch.nn.LSTM(bidirectional)",
                "torch",
                lambda d, u: torch.nn.LSTM(d, u, batch_first=True, bidirectional=True),
            ),
        ],
    ),
    "StackedLSTM2": (
        4,
        4,
        1,
        2,
        lambda u: keras_seq.layers.StackedRNN(keras_seq.layers.LSTM(u), num_layers=2),
        [
            (
                "2 × keras.layers.LSTM",
                "keras",
                lambda u: KerasStack([_keras("LSTM", u), _keras("LSTM", u)]),
            ),
            (
                "torch.nn.LSTM(num_layers=2)",
                "torch",
                lambda d, u: torch.nn.LSTM(d, u, batch_first=True, num_layers=2),
            ),
        ],
    ),
}


def train_flops(row, size, reference=False):
    """Matmul FLOPs of one train step (backward = 2 × forward) of the keras_seq candidate of
    ``row``, or of its references when ``reference``."""
    ours_gates, reference_gates, directions, levels, _, _ = ROWS[row]
    gates = reference_gates if reference else ours_gates
    batch, length, features, units = SIZES[size]
    flops, width = 0, features
    for _ in range(levels):
        flops += directions * 2 * batch * length * (width + units) * gates * units
        width = directions * units
    return 3 * flops


def inputs_for(size, padded):
    batch, length, features, _ = SIZES[size]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, length, features)).astype("float32")
    mask = None
    if padded:
        lengths = rng.integers(length // 2, length + 1, size=(batch, 1))
        mask = np.arange(length)[None, :] < lengths
    return x, mask


def keras_train_step(layer, x, mask):
    x = tf.constant(x)
    mask = None if mask is None else tf.constant(mask)
    layer(x, mask=mask)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(layer.trainable_variables)

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            outputs = tf.cast(layer(x, mask=mask, training=True), tf.float32)
            loss = tf.reduce_mean(tf.square(outputs))
        grads = tape.gradient(loss, layer.trainable_variables)
        optimizer.apply(grads, layer.trainable_variables)
        return loss

    return lambda: train_step().numpy()


def keras_forward_step(layer, x, mask):
    """The layer's forward pass alone, as at inference (no gradient tape, ``training=False``)."""
    x = tf.constant(x)
    mask = None if mask is None else tf.constant(mask)

    @tf.function
    def forward():
        return tf.reduce_sum(tf.cast(layer(x, mask=mask, training=False), tf.float32))

    return lambda: forward().numpy()


def torch_forward_step(module, x):
    x = torch.from_numpy(x)

    def forward():
        with torch.no_grad():
            return module(x)[0].sum().item()

    return forward


def torch_train_step(module, x):
    x = torch.from_numpy(x)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss = module(x)[0].square().mean()
        loss.backward()
        optimizer.step()
        return loss.item()

    return train_step


def build_candidates(row, size, padded, forward_only=False):
    """``{name: step}``: keras_seq first, then the references that can run here; a step is
    a train step, or with ``forward_only`` a forward pass."""
    _, _, _, _, ours, references = ROWS[row]
    _, _, features, units = SIZES[size]
    x, mask = inputs_for(size, padded)
    keras_step = keras_forward_step if forward_only else keras_train_step
    torch_step = torch_forward_step if forward_only else torch_train_step
    candidates = {"keras_seq": keras_step(ours(units), x, mask)}
    for name, kind, build in references:
        if kind == "keras":
            candidates[name] = keras_step(build(units), x, mask)
        elif torch is not None and not padded:
            candidates[name] = torch_step(build(features, units), x)
    return candidates


def time_step(step):
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def measure(row, size, steps, warmup, padded, forward_only=False):
    """Median step time (s) of every candidate of ``row`` at ``size``, interleaved."""
    candidates = build_candidates(row, size, padded, forward_only)
    for step in candidates.values():
        for _ in range(warmup):
            step()
    times = {name: [] for name in candidates}
    for _ in range(steps):
        for name, step in candidates.items():
            times[name].append(time_step(step))
    return {name: statistics.median(t) for name, t in times.items()}


# ------------------------------------------------------------------------- matmul ceiling
def matmul_gflops(m, k, n, repeats=30):
    """Best GFLOP/s of a float32 ``[m, k] × [k, n]`` tf.matmul over ``repeats`` runs (the
    result is fetched): the best, not the median, since the ceiling is what the machine can
    do at all, and a shared machine only ever slows a run down."""
    rng = np.random.default_rng(0)
    a = tf.constant(rng.normal(size=(m, k)).astype("float32"))
    b = tf.constant(rng.normal(size=(k, n)).astype("float32"))
    for _ in range(3):
        tf.matmul(a, b).numpy()
    times = [time_step(lambda: tf.matmul(a, b).numpy()) for _ in range(repeats)]
    return 2 * m * k * n / min(times) / 1e9


def matmul_ceiling(sizes):
    """GFLOP/s of the two matmul shapes of an LSTM at each size: the per-step recurrent one
    ``[B, H] × [H, 4H]`` and the all-steps input projection ``[T·B, D] × [D, 4H]``."""
    shapes = set()
    for size in sizes:
        batch, length, features, units = SIZES[size]
        shapes.add((batch, units, 4 * units))
        shapes.add((batch * length, features, 4 * units))
    return {shape: matmul_gflops(*shape) for shape in sorted(shapes)}


# --------------------------------------------------------------------------- matmul bound
def _constant(*shape):
    """Random numbers of ``shape`` in the compute dtype of the run's policy (``--dtype``:
    bfloat16 under "mixed_bfloat16"), the dtype the layers' matmuls run in."""
    values = tf.constant(np.random.default_rng(0).normal(size=shape).astype("float32") * 0.05)
    return tf.cast(values, keras.mixed_precision.global_policy().compute_dtype)


def _best_time(run, repeats):
    """The best of ``repeats`` timed calls of ``run`` after one untimed (tracing) call."""
    run()
    return min(time_step(run) for _ in range(repeats))


def _chained(step, states, length):
    """A callable running ``states = [step(s) for s in states]`` ``length`` times in one
    `tf.while_loop` (each step's matmul waits for the previous one's) and fetching the
    result; independent states (the two halves) run side by side."""

    @tf.function
    def run():
        return tf.while_loop(
            lambda t, *values: t < length,
            lambda t, *values: (t + 1, *[step(value) for value in values]),
            (tf.constant(0), *states),
        )[1:]

    return lambda: [value.numpy() for value in run()]


def serial_matmul_seconds(batch, length, units, gates, repeats=5):
    """Seconds of the recurrence's serial matmuls over ``length`` steps, the part of a train
    step that no implementation can batch over time: the forward ``h_{t-1} U`` ([B, H] × [H,
    kH]) and the backward ``dz_t Uᵀ`` ([B, kH] × [kH, H]), each chained step to step in a
    `tf.while_loop`. Returns ``(forward, backward)``, each the fastest of its layouts:
    batch-major, feature-major (``Uᵀ h_{t-1}ᵀ``, ``U dz_tᵀ``) and feature-major with one
    product per gate block, each over the B rows in one chain or in two chains over the
    halves (which the executor runs side by side). To chain the steps, the forward keeps the
    first H columns (rows) of the product and the backward adds one column (row) of the last
    ``dh`` to ``dz_t``: a little elementwise work per step, where a real cell does much more."""
    hidden, wide = units, gates * units
    kernel = _constant(hidden, wide)  # U [H, kH]
    kernel_t = tf.transpose(kernel) + 0.0  # Uᵀ [kH, H], in its own memory
    row_blocks = [kernel_t[j * hidden : (j + 1) * hidden] + 0.0 for j in range(gates)]
    column_blocks = [kernel[:, j * hidden : (j + 1) * hidden] + 0.0 for j in range(gates)]

    def forward(layout, rows):
        if layout == "batch-major":
            return lambda h: tf.matmul(h, kernel)[:, :hidden]
        if layout == "feature-major":
            return lambda h: tf.matmul(kernel_t, h)[:hidden]
        return lambda h: tf.add_n([tf.matmul(block, h) for block in row_blocks])

    def backward(layout, rows):
        if layout == "batch-major":
            d_z = _constant(rows, wide)
            return lambda d_h: tf.matmul(d_z + d_h[:, :1], kernel_t)
        d_z = _constant(wide, rows)
        if layout == "feature-major":
            return lambda d_h: tf.matmul(kernel, d_z + d_h[:1])

        def per_gate(d_h):
            chained = d_z + d_h[:1]
            return tf.add_n(
                [
                    tf.matmul(block, chained[j * hidden : (j + 1) * hidden])
                    for j, block in enumerate(column_blocks)
                ]
            )

        return per_gate

    splits = [1] if batch < 2 else [1, 2]
    best = []
    for make_step in (forward, backward):
        seconds = []
        for layout in ("batch-major", "feature-major", "feature-major per gate"):
            for chains in splits:
                rows = batch // chains
                shape = (rows, hidden) if layout == "batch-major" else (hidden, rows)
                states = [_constant(*shape) for _ in range(chains)]
                run = _chained(make_step(layout, rows), states, length)
                seconds.append(_best_time(run, repeats))
        best.append(min(seconds))
    return tuple(best)


def batched_matmul_seconds(batch, length, features, units, gates, repeats=5):
    """Seconds of the train step's matmuls over all steps at once, each at its best time in
    ``repeats`` calls: the input projection ``x W`` ([T·B, D] × [D, kH]), ``dx = dz Wᵀ``
    ([T·B, kH] × [kH, D]) and the weight gradients ``dW = xᵀ dz`` and ``dU = hᵀ dz`` ([T·B,
    D or H]ᵀ × [T·B, kH])."""
    tokens, wide = batch * length, gates * units
    d_z = _constant(tokens, wide)
    products = [
        (_constant(tokens, features), _constant(features, wide), False),
        (d_z, _constant(wide, features), False),
        (_constant(tokens, features), d_z, True),
        (_constant(tokens, units), d_z, True),
    ]
    total = 0.0
    for left, right, transpose_a in products:
        product = tf.function(lambda a, b, t=transpose_a: tf.matmul(a, b, transpose_a=t))
        total += _best_time(lambda a=left, b=right, p=product: p(a, b).numpy(), repeats)
    return total


def matmul_bound(row, size, repeats=5):
    """``(seconds, serial seconds)``: the time of a train step of ``row`` at ``size`` if it
    were nothing but its matmuls, each at the speed it runs at here on its own
    (`serial_matmul_seconds` + `batched_matmul_seconds`), or None for a row of several
    directions or levels. The FLOPs are `train_flops`'. Elementwise work, the loop's own
    overhead, copies and the optimizer's update are left out, and the matmuls' times are
    summed: a bound for an implementation that runs them one after the other at these
    speeds. One that overlaps independent products on the cores can beat a sum (the
    halves' two chains measure that for the serial products; an input projection made
    beside the recurrent product is not measured), so the bound is an estimate of what
    the machine allows, not a proof."""
    gates, _, directions, levels, _, _ = ROWS[row]
    if directions != 1 or levels != 1:
        return None
    batch, length, features, units = SIZES[size]
    serial = sum(serial_matmul_seconds(batch, length, units, gates, repeats))
    return serial + batched_matmul_seconds(batch, length, features, units, gates, repeats), serial


# -------------------------------------------------------------------------- peak memory
def memory_probe(row, size, candidate, padded):
    """Allocator peak (bytes) of one train step above what was allocated before it."""
    candidates = build_candidates(row, size, padded)
    step = candidates[candidate]
    step()  # trace and run once: every variable and optimizer slot now exists
    tf.config.experimental.reset_memory_stats("CPU:0")
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    step()
    return tf.config.experimental.get_memory_info("CPU:0")["peak"] - before


def measure_memory(row, size, candidate, padded, dtype):
    """`memory_probe` in a fresh subprocess with the BFC allocator and the Keras dtype policy
    ``dtype``; None if it fails."""
    command = [sys.executable, __file__, "--memory-probe", row, size, candidate, "--dtype", dtype]
    if padded:
        command.append("--mask")
    env = dict(os.environ, TF_CPU_ALLOCATOR_USE_BFC="true")
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        print(f"# memory probe of {candidate} ({row}, {size}) failed: {result.stderr[-300:]}")
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_bytes"]


def print_bound_table(results):
    """The matmul bound (`matmul_bound`) of every single-layer row measured, against the
    candidates' median step times ``results[row, size]``: how close ours is to it, and the
    largest ratio against each reference that any implementation made of these matmuls
    could reach on this machine."""
    print()
    print(
        "# matmul bound: a train step made of nothing but its matmuls, each at its best time"
        " here on its own (serial: the steps' h U and dz Uᵀ chained in a tf.while_loop, best"
        " layout; batched: x W, dz Wᵀ, xᵀ dz, hᵀ dz over all steps); multi-layer rows left out"
    )
    print(
        "| layer | size | bound tok/s (serial share) | keras_seq / bound | reference "
        "| bound / reference |"
    )
    print("|---|---|---|---|---|---|")
    for (row, size), medians in results.items():
        bound = matmul_bound(row, size)
        if bound is None:
            continue
        seconds, serial = bound
        batch, length, features, units = SIZES[size]
        for name in list(medians)[1:]:
            print(
                f"| {row} | {size}: {batch}×{length}, {features}→{units} | "
                f"{batch * length / seconds:,.0f} ({serial / seconds:.0%}) | "
                f"{seconds / medians['keras_seq']:.0%} | {name} | "
                f"{medians[name] / seconds:.2f}× |",
                flush=True,
            )


def print_memory_table(args):
    """The peak-memory table of every row and size (`measure_memory`), ours against the
    Keras references."""
    print()
    print(
        f"# peak MB: median (range) of {args.memory_repeats} probes, each in a fresh process, "
        f"policy {args.dtype}{', right-padded batches with a mask' if args.mask else ''}; "
        "ratio = keras_seq / reference (< 1: ours needs less)"
    )
    print("| layer | size | keras_seq step peak MB | reference | reference peak MB | ratio |")
    print("|---|---|---|---|---|---|")

    def probes(row, size, name):
        """Median and range (MB) of ``--memory-repeats`` probes, or None if one failed."""
        peaks = []
        for _ in range(args.memory_repeats):
            peak = measure_memory(row, size, name, args.mask, args.dtype)
            if peak is None:
                return None
            peaks.append(peak / 2**20)
        return statistics.median(peaks), min(peaks), max(peaks)

    def describe(peaks):
        median, low, high = peaks
        return f"{median:.1f} ({low:.1f}–{high:.1f})"

    for size in args.sizes:
        for row in args.layers:
            ours = probes(row, size, "keras_seq")
            for name, kind, _ in ROWS[row][5]:
                if kind != "keras" or ours is None:
                    continue
                reference = probes(row, size, name)
                if reference is None:
                    continue
                print(
                    f"| {row} | {size} | {describe(ours)} | {name} | {describe(reference)} | "
                    f"{ours[0] / reference[0]:.2f}× |",
                    flush=True,
                )


# ------------------------------------------------------------------------------- report
def cpu_model():
    """The CPU's model name (``lscpu``'s "Model name"), or the architecture if unknown."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="measured steps per candidate")
    parser.add_argument("--warmup", type=bounded_number(int, 0), default=2)
    parser.add_argument("--sizes", nargs="+", default=["C"], choices=list(SIZES))
    parser.add_argument("--layers", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument(
        "--mask", action="store_true", help="right-padded batches: a mask with lengths T/2 … T"
    )
    parser.add_argument(
        "--memory-only", action="store_true", help="measure peak memory only (no throughput)"
    )
    parser.add_argument(
        "--forward-only",
        action="store_true",
        help="time the forward pass alone, as at inference (no gradient tape), not train steps",
    )
    parser.add_argument(
        "--memory-repeats",
        type=bounded_number(int, 1),
        default=5,
        help="memory probes per candidate (the executor's op order moves a probe by up to 35%%)",
    )
    parser.add_argument(
        "--memory", action="store_true", help="also measure each train step's peak memory"
    )
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "mixed_bfloat16"],
        help="Keras dtype policy of the keras_seq and Keras candidates",
    )
    parser.add_argument(
        "--torch-threads",
        type=bounded_number(int, 1),
        default=TORCH_THREADS,
        help="torch.set_num_threads",
    )
    parser.add_argument(
        "--bound",
        action="store_true",
        help="also time each row's matmuls alone: about the fastest a train step made of "
        "them could run here",
    )
    parser.add_argument("--memory-probe", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    keras.mixed_precision.set_global_policy(args.dtype)
    if torch is not None:
        torch.set_num_threads(args.torch_threads)
        torch.manual_seed(0)
    if args.memory_probe:
        print(json.dumps({"peak_bytes": memory_probe(*args.memory_probe, args.mask)}))
        return
    if args.steps < 5:
        parser.error("--steps must be at least 5 (medians of fewer steps are too noisy)")
    if args.forward_only and (args.memory or args.memory_only):
        parser.error("--forward-only times forward passes; the memory table is of train steps")
    if args.bound and (args.forward_only or args.memory_only):
        parser.error("--bound is a train step's: not with --forward-only or --memory-only")

    print(
        f"# {cpu_model()}, {os.cpu_count()} cores, TF {tf.__version__}, "
        f"Keras {keras.__version__}, torch {torch.__version__ if torch else 'not installed'}"
        f" ({args.torch_threads} threads), policy {args.dtype}"
    )
    if torch is None:
        print("# torch is not importable: torch rows skipped (see benchmarks/README.md)")
    elif args.mask:
        print("# --mask: torch rows skipped (its modules take no mask)")
    what = "forward passes (no gradient tape)" if args.forward_only else "train steps"
    if not args.memory_only:
        print(
            f"# median of {args.steps} interleaved {what} after {args.warmup} warm-up steps"
            + (", right-padded batches with a mask" if args.mask else "")
        )
    print(f"# load average (1, 5, 15 min) at start: {load_average()}")
    if args.memory_only:
        print_memory_table(args)
        print(f"# load average (1, 5, 15 min) at end: {load_average()}")
        return
    ceilings = matmul_ceiling(args.sizes)
    for (m, k, n), gflops in ceilings.items():
        print(f"# tf.matmul float32 [{m}, {k}] × [{k}, {n}]: {gflops:.0f} GFLOP/s")
    ceiling = max(ceilings.values())
    print(f"# ceiling = the fastest of these: {ceiling:.0f} GFLOP/s")
    print()
    print(
        "| layer | size | keras_seq tok/s | GFLOP/s (% ceiling) | reference | reference tok/s "
        "| GFLOP/s (% ceiling) | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    results = {}
    for size in args.sizes:
        batch, length, features, units = SIZES[size]
        tokens = batch * length
        for row in args.layers:
            medians = measure(row, size, args.steps, args.warmup, args.mask, args.forward_only)
            results[row, size] = medians
            # a forward pass: a third of a train step's matmuls
            share = 1 / 3 if args.forward_only else 1
            flops = {
                False: share * train_flops(row, size),
                True: share * train_flops(row, size, reference=True),
            }

            def describe(name, medians=medians, flops=flops, tokens=tokens):
                gflops = flops[name != "keras_seq"] / medians[name] / 1e9
                return f"{tokens / medians[name]:,.0f} | {gflops:.0f} ({gflops / ceiling:.0%})"

            for name in list(medians)[1:]:
                print(
                    f"| {row} | {size}: {batch}×{length}, {features}→{units} | "
                    f"{describe('keras_seq')} | {name} | {describe(name)} | "
                    f"{medians[name] / medians['keras_seq']:.2f}× |",
                    flush=True,
                )
    if args.bound:
        print_bound_table(results)
    if args.memory:
        print_memory_table(args)
    print(f"# load average (1, 5, 15 min) at end: {load_average()}")


if __name__ == "__main__":
    main()
