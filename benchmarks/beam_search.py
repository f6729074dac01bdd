"""Decoding speed: keras_seq's beam search against keras-hub's and greedy, and export overhead.

1. Search: one step function (token embedding → `keras.layers.LSTMCell` → dense projection
   to the vocabulary, random weights) driven by `keras_seq.decoding.BeamSearch`,
   `keras_hub.samplers.BeamSampler` (same beam size) and `keras_seq.decoding.GreedySearch`,
   the latter also on batch × k rows: that row is the beam's step calls alone, so it splits
   beam / greedy into the step function's share (its cost on k× the rows, a floor for any
   beam search) and the search's own.
   Every search runs exactly ``--steps`` steps (``min_length = max_length = steps`` for ours,
   no stop token for keras-hub's) and is compiled once with `tf.function`; calls are
   interleaved round-robin and the median wall time of a call is reported, with output
   tokens/s = output sequences × steps / median (batch sequences; batch × k for greedy on
   batch × k rows) and the time against our beam search measured in the same run.
2. Export: a random small `Seq2Seq` with WordPiece tokenizers is exported with
   `keras_seq.export.export`; its ``serving_default`` signature (strings in, beam search,
   strings out), loaded back with `tf.saved_model.load` as a server would, is timed against
   the same signature function compiled in-process (`tf.function`), interleaved.

    python benchmarks/beam_search.py                 # k=4, batch 32, vocab 8k, LSTM 512, 50 steps
    python benchmarks/beam_search.py --repeats 5 --skip-export

keras-hub rows need ``keras_hub`` importable (see benchmarks/README.md); without it they are
skipped with a message.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_seq.cli import bounded_number  # noqa: E402
from keras_seq.decoding import BeamSearch, GreedySearch  # noqa: E402
from keras_seq.export import export  # noqa: E402
from keras_seq.models import Seq2Seq  # noqa: E402
from keras_seq.text import WordPieceTokenizer  # noqa: E402

try:
    import keras_hub
except ImportError:
    keras_hub = None

START_ID, END_ID = 1, 2


class StepModel(keras.Model):
    """The decoder step shared by every search: embedding → LSTM cell → logits."""

    def __init__(self, vocabulary_size, units, **kwargs):
        super().__init__(**kwargs)
        self.embedding = keras.layers.Embedding(vocabulary_size, units)
        self.cell = keras.layers.LSTMCell(units)
        self.projection = keras.layers.Dense(vocabulary_size)
        self.units = units

    def call(self, ids, state):
        output, state = self.cell(self.embedding(ids), list(state))
        return self.projection(output), tuple(state)

    def initial_state(self, batch_size):
        rng = np.random.default_rng(1)  # a non-zero start, as an encoder would give
        return tuple(
            tf.constant(rng.normal(scale=0.5, size=(batch_size, self.units)), tf.float32)
            for _ in range(2)
        )


def keras_seq_search(model, strategy, steps, hide_vocabulary=False):
    """``hide_vocabulary`` hides the logits' vocabulary size from shape inference, which makes
    `BeamSearch` score all ``V`` tokens of every beam (its path before candidate scoring)."""

    @tf.function(autograph=False)
    def search(start_ids, state):
        def step(ids, state, index):
            logits, state = model(ids, state)
            if hide_vocabulary:
                logits = tf.raw_ops.PlaceholderWithDefault(input=logits, shape=[None, None])
            return logits, state

        result = strategy(step, start_ids, END_ID, state, max_length=steps, min_length=steps)
        return result.ids

    return search


def keras_hub_search(model, beam_size, steps):
    sampler = keras_hub.samplers.BeamSampler(num_beams=beam_size)

    @tf.function(autograph=False)
    def search(start_ids, state):
        # keras-hub's convention: the prompt holds the start token at 0 and room for `steps`
        # tokens; `next` reads the token before `index` and returns the logits at `index`.
        prompt = tf.pad(start_ids[:, None], [[0, 0], [0, steps]])

        def next_logits(prompt, cache, index):
            logits, cache = model(prompt[:, index - 1], cache)
            return logits, None, cache

        return sampler(next_logits, prompt, cache=state, index=1)

    return search


def median_times(functions, repeats):
    """Median wall time of each ``function()`` (results fetched), calls interleaved."""
    for function in functions.values():
        function()  # trace and warm up
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def fetch(outputs):
    return tf.nest.map_structure(lambda t: t.numpy(), outputs)


def search_benchmark(args):
    keras.utils.set_random_seed(0)
    model = StepModel(args.vocabulary_size, args.units)
    start_ids = tf.fill([args.batch_size], START_ID)
    state = model.initial_state(args.batch_size)
    model(start_ids, state)
    ours = keras_seq_search(model, BeamSearch(args.beam_size), args.steps)
    whole = keras_seq_search(model, BeamSearch(args.beam_size), args.steps, True)
    greedy = keras_seq_search(model, GreedySearch(), args.steps)
    functions = {
        "keras_seq BeamSearch": lambda: fetch(ours(start_ids, state)),
        "keras_seq BeamSearch, all V tokens scored": lambda: fetch(whole(start_ids, state)),
        "keras_seq GreedySearch": lambda: fetch(greedy(start_ids, state)),
    }
    # The same step on batch × k rows, greedily: what the beam's step calls alone cost.
    wide_start_ids = tf.fill([args.batch_size * args.beam_size], START_ID)
    wide_state = model.initial_state(args.batch_size * args.beam_size)
    wide = keras_seq_search(model, GreedySearch(), args.steps)
    functions["keras_seq GreedySearch, batch × k rows"] = lambda: fetch(
        wide(wide_start_ids, wide_state)
    )
    if keras_hub is None:
        print("# keras_hub is not importable: keras-hub rows skipped (see benchmarks/README.md)")
    else:
        hub = keras_hub_search(model, args.beam_size, args.steps)
        functions["keras_hub BeamSampler"] = lambda: fetch(hub(start_ids, state))
        hub_ids = hub(start_ids, state).numpy()
        assert hub_ids.shape == (args.batch_size, args.steps + 1), hub_ids.shape
    ids = ours(start_ids, state).numpy()
    assert ids.shape[-1] == args.steps and (ids != END_ID).all(), "ours stopped early"
    assert (ids == whole(start_ids, state).numpy()).all(), "candidate scoring changed the result"
    medians = median_times(functions, args.repeats)
    # Output tokens of a call: `steps` tokens for each output sequence.
    tokens = {name: args.batch_size * args.steps for name in medians}
    tokens["keras_seq GreedySearch, batch × k rows"] *= args.beam_size
    print()
    print(
        f"Search: beam size {args.beam_size}, batch {args.batch_size}, vocabulary "
        f"{args.vocabulary_size}, LSTM {args.units}, {args.steps} steps, median of "
        f"{args.repeats} calls"
    )
    print()
    print("| search | median s | output tokens/s | time / keras_seq BeamSearch |")
    print("|---|---|---|---|")
    ours_time = medians["keras_seq BeamSearch"]
    for name, seconds in medians.items():
        print(
            f"| {name} | {seconds:.3f} | {tokens[name] / seconds:,.0f} | "
            f"{seconds / ours_time:.2f}× |"
        )
    print()
    if "keras_hub BeamSampler" in medians:
        print(
            f"# throughput keras_seq beam / keras-hub beam: "
            f"{medians['keras_hub BeamSampler'] / ours_time:.2f}×"
        )
    greedy_time = medians["keras_seq GreedySearch"]
    wide_time = medians["keras_seq GreedySearch, batch × k rows"]
    print(f"# time keras_seq beam / greedy: {ours_time / greedy_time:.2f}×")
    print(
        f"# of which the step function on k× the rows (greedy on batch × k rows / greedy): "
        f"{wide_time / greedy_time:.2f}×; the search itself (beam / greedy on batch × k rows): "
        f"{ours_time / wide_time:.2f}×"
    )


def export_benchmark(args):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(400)]
    sentences = [" ".join(rng.choice(words, size=rng.integers(5, 15))) for _ in range(300)]
    source = WordPieceTokenizer.from_corpus(sentences, 500, name="source_tokenizer")
    target = WordPieceTokenizer.from_corpus(sentences, 500, name="target_tokenizer")
    model = Seq2Seq(
        embedding_dim=args.export_units,
        units=args.export_units,
        source_tokenizer=source,
        target_tokenizer=target,
    )
    model.build()
    # As many sentences as the batch size, the 300 distinct ones repeated if need be.
    batch = tf.constant([sentences[i % len(sentences)] for i in range(args.batch_size)])
    function, signature = model.serving_signatures()["serving_default"]
    in_process = tf.function(function, input_signature=signature)
    with tempfile.TemporaryDirectory() as base_dir:
        path = export(model, base_dir, "translator")
        loaded = tf.saved_model.load(path).signatures["serving_default"]
        exported = fetch(loaded(source=batch))
        expected = fetch(in_process(batch))
        assert (exported["translation"] == expected["translation"]).all()
        medians = median_times(
            {
                "in-process tf.function": lambda: fetch(in_process(batch)),
                "exported serving_default": lambda: fetch(loaded(source=batch)),
            },
            args.repeats,
        )
    print()
    print(
        f"Export: Seq2Seq (embedding and LSTM units {args.export_units}, random weights, "
        f"bidirectional encoder, attention), beam 4, batch {args.batch_size} sentences, "
        f"median of {args.repeats} calls"
    )
    print()
    print("| translation function | median s | time / in-process |")
    print("|---|---|---|")
    reference = medians["in-process tf.function"]
    for name, seconds in medians.items():
        print(f"| {name} | {seconds:.3f} | {seconds / reference:.2f}× |")


def load_average():
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--beam-size",
        type=bounded_number(int, 1),
        default=4,
        help="beam of the search comparison (the export part always decodes with 4)",
    )
    parser.add_argument("--batch-size", type=bounded_number(int, 1), default=32)
    parser.add_argument(
        "--vocabulary-size",
        type=bounded_number(int, END_ID + 1),
        default=8000,
        help=f"at least {END_ID + 1}: ids {START_ID} and {END_ID} are the start and end tokens",
    )
    parser.add_argument("--units", type=bounded_number(int, 1), default=512)
    parser.add_argument("--steps", type=bounded_number(int, 1), default=50)
    parser.add_argument(
        "--repeats", type=bounded_number(int, 1), default=7, help="measured calls per function"
    )
    parser.add_argument("--export-units", type=bounded_number(int, 1), default=64)
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args()
    print(
        f"# {os.cpu_count()} cores, TF {tf.__version__}, Keras {keras.__version__}, "
        f"keras-hub {keras_hub.__version__ if keras_hub else 'not installed'}"
    )
    print(f"# load average (1, 5, 15 min) at start: {load_average()}")
    search_benchmark(args)
    if not args.skip_export:
        export_benchmark(args)
    print(f"# load average (1, 5, 15 min) at end: {load_average()}")


if __name__ == "__main__":
    main()
