"""Training speed of the translation recipe's model: fused recurrences against the general loop.

The "before / after" of issue #7 for the translator. Two copies of the `Seq2Seq` of
``recipes/translate.py`` (``--config full`` or ``quick``), with the same initial weights, train
on the same real batches of the bundled Ding corpus (the recipe's pipeline: WordPiece ids,
length-bucketed, padded per batch):

- **fused** is the model as the recipe builds it: every LSTM level whose cell allows it runs
  `keras_seq.layers`' fused recurrence (hand-written BPTT);
- **general loop** is the same model with its cells swapped to a trivial subclass, which the
  fused path refuses (it takes exact cell classes only), so every level runs the per-step
  `tf.while_loop` with autodiff: what the model ran before the fused kernels, and what
  `keras.layers.LSTM` runs on a CPU.

Each candidate's train step (forward + backward + Adam, ``model.train_on_batch``) is traced
first, then the candidates are stepped round-robin over the same batches, so machine noise hits
both alike. Reported: median step time, target tokens/s (tokens of ``target_out`` that are not
padding, i.e. pieces plus ``</s>``, over the median batch), the ratio fused / general, and the
projected epoch time (train batches × mean step time). The two models' first-step losses are
checked equal, which shows they compute the same thing.

    python benchmarks/translator_training.py                  # full config, 20 batches × 3
    python benchmarks/translator_training.py --config quick --rounds 5

The WordPiece vocabularies are learned from the first ``--tokenizer-sentences`` train pairs
(pure Python, about 1 min per 3,000), the model keeps the config's vocabulary sizes.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recipes"))
from translate import (  # noqa: E402  (recipes/translate.py)
    CONFIGS,
    compiled_model,
    learn_tokenizers,
    training_data,
)

from keras_seq.cells.gru_cell import GRUCell  # noqa: E402
from keras_seq.cells.lstm_cell import LSTMCell  # noqa: E402
from keras_seq.cli import bounded_number  # noqa: E402
from keras_seq.datasets import load_ding  # noqa: E402
from keras_seq.layers._fused_recurrence import supports_fused_recurrence  # noqa: E402


class _GeneralLoopLSTMCell(LSTMCell):
    """The same LSTM cell; being a subclass, it makes the layer run the general loop."""


class _GeneralLoopGRUCell(GRUCell):
    """The same GRU cell; being a subclass, it makes the layer run the general loop."""


GENERAL_LOOP_CELLS = {LSTMCell: _GeneralLoopLSTMCell, GRUCell: _GeneralLoopGRUCell}


def recurrent_cells(model):
    return [
        layer.cell
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if type(getattr(layer, "cell", None)) in (LSTMCell, GRUCell, *GENERAL_LOOP_CELLS.values())
    ]


def force_general_loop(model):
    """Swaps every fusable cell of ``model`` to its general-loop twin (same weights)."""
    cells = recurrent_cells(model)
    for cell in cells:
        cell.__class__ = GENERAL_LOOP_CELLS[type(cell)]
    return len(cells)


def build(config):
    keras.utils.set_random_seed(0)
    size = config["vocabulary_size"]
    return compiled_model(config, source_vocabulary_size=size, target_vocabulary_size=size)


def load_average():
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="full")
    parser.add_argument(
        "--batches", type=bounded_number(int, 1), default=20, help="distinct train batches"
    )
    parser.add_argument(
        "--rounds", type=bounded_number(int, 1), default=3, help="passes over the batches"
    )
    parser.add_argument("--tokenizer-sentences", type=bounded_number(int, 1), default=3000)
    args = parser.parse_args()
    config = CONFIGS[args.config]
    print(f"# {os.cpu_count()} cores, TF {tf.__version__}, Keras {keras.__version__}")
    print(f"# load average (1, 5, 15 min) at start: {load_average()}")

    train = load_ding("train")
    started = time.perf_counter()
    source_tokenizer, target_tokenizer = learn_tokenizers(
        train[: args.tokenizer_sentences], config["vocabulary_size"]
    )
    print(f"# vocabularies learned in {time.perf_counter() - started:.0f} s")
    dataset, statistics_ = training_data(train, source_tokenizer, target_tokenizer, config, 1)
    batches = [
        (tuple(tf.constant(x) for x in inputs), tf.constant(target))
        for inputs, target in dataset.take(args.batches).as_numpy_iterator()
    ]
    train_batches = -(-statistics_.num_kept // config["batch_size"])  # ceil
    tokens = [int(np.count_nonzero(target.numpy())) for _, target in batches]

    models = {}
    for name in ("fused", "general loop"):
        model = build(config)
        if name == "general loop":
            swapped = force_general_loop(model)
            cells = recurrent_cells(model)
            assert swapped and not any(supports_fused_recurrence(c, True, False) for c in cells)
        else:
            assert all(supports_fused_recurrence(c, True, False) for c in recurrent_cells(model))
        models[name] = model
    # Same weights, same batch, dropout off: the two paths compute the same loss.
    inputs, target = batches[0]
    losses = {
        name: float(model.compute_loss(y=target, y_pred=model(inputs, training=False)))
        for name, model in models.items()
    }
    assert abs(losses["fused"] - losses["general loop"]) < 1e-4 * abs(losses["fused"]), losses

    for model in models.values():  # trace (and retrace for the bucketed shapes) first
        for inputs, target in batches:
            model.train_on_batch(inputs, target)
    times = {name: [] for name in models}
    for _ in range(args.rounds):
        for inputs, target in batches:
            for name, model in models.items():
                start = time.perf_counter()
                model.train_on_batch(inputs, target)
                times[name].append(time.perf_counter() - start)

    median_tokens = statistics.median(tokens)
    print()
    print(
        f"Translator training step, config {args.config!r} (emb {config['embedding_dim']}, "
        f"units {config['units']}, {config['encoder_layers']}+{config['decoder_layers']} levels, "
        f"vocab {config['vocabulary_size']}, batch {config['batch_size']}), "
        f"{len(batches)} Ding batches × {args.rounds} rounds, interleaved; "
        f"median {median_tokens:.0f} target tokens a batch, {train_batches} batches an epoch"
    )
    print()
    print("| path | median step ms | target tokens/s | projected epoch | tokens/s / general |")
    print("|---|---|---|---|---|")
    general = statistics.median(times["general loop"])
    for name, seconds in times.items():
        median = statistics.median(seconds)
        epoch = train_batches * statistics.mean(seconds)
        print(
            f"| {name} | {median * 1000:.0f} | {median_tokens / median:,.0f} | "
            f"{epoch / 60:.1f} min | {general / median:.2f}× |"
        )
    print(f"# load average (1, 5, 15 min) at end: {load_average()}")


if __name__ == "__main__":
    main()
