"""recipes/_common.py: who writes in a cluster, the resumable data stream, the history of a
resumed run, the strategy flags."""

import importlib.util
import json
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    "recipes_common", os.path.join(ROOT, "recipes", "_common.py")
)
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)


def resolver(cluster, task_type, task_id):
    return tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
    )


WORKERS = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
WITH_CHIEF = {"chief": ["127.0.0.1:0"], "worker": ["127.0.0.1:1", "127.0.0.1:2"]}


@pytest.mark.parametrize(
    "cluster, task_type, task_id, expected",
    [
        (WORKERS, "worker", 0, True),
        (WORKERS, "worker", 1, False),
        (WITH_CHIEF, "chief", 0, True),
        (WITH_CHIEF, "worker", 0, False),
        (WITH_CHIEF, "worker", 1, False),
    ],
)
def test_is_chief(cluster, task_type, task_id, expected):
    assert common.is_chief(resolver(cluster, task_type, task_id)) is expected


def test_is_chief_without_a_cluster():
    assert common.is_chief(None)
    assert common.is_chief(tf.distribute.get_strategy().cluster_resolver)


def make_run(initial_epoch):
    return common.Run(
        strategy=tf.distribute.get_strategy(),
        chief=True,
        out="unused",
        backup_dir="unused",
        initial_epoch=initial_epoch,
        history=[],
        final_weights=None,
    )


def shuffled_batches():
    """What a recipe builds at start: a seeded pipeline reshuffled at each iteration."""
    keras.utils.set_random_seed(5)
    dataset = tf.data.Dataset.range(10).shuffle(10, seed=1, reshuffle_each_iteration=True)
    return dataset.batch(3)  # 4 batches, the last of 1


def batches(stream, count):
    return [batch.numpy().tolist() for batch in stream.take(count)]


def test_a_resumed_stream_continues_where_the_epochs_left_off():
    stream, steps = common.train_stream(make_run(0), shuffled_batches())
    assert steps == 4
    uninterrupted = batches(stream, 3 * steps)
    epochs = [sum(uninterrupted[e * steps : (e + 1) * steps], []) for e in range(3)]
    assert all(sorted(epoch) == list(range(10)) for epoch in epochs)
    assert epochs[0] != epochs[1] != epochs[2]  # each epoch in its own order
    # A new process resuming at epoch 2 (1-based) sees what the uninterrupted run saw.
    resumed, _ = common.train_stream(make_run(1), shuffled_batches())
    assert batches(resumed, 2 * steps) == uninterrupted[steps:]


def test_train_stream_steps_per_epoch():
    stream, steps = common.train_stream(make_run(2), shuffled_batches(), steps_per_epoch=3)
    assert steps == 3
    full, _ = common.train_stream(make_run(0), shuffled_batches(), steps_per_epoch=3)
    assert batches(stream, 2) == batches(full, 8)[6:]
    unknown = tf.data.Dataset.range(4).filter(lambda x: x > 0)
    with pytest.raises(ValueError, match="no known length"):
        common.train_stream(make_run(0), unknown)


def test_write_history_puts_the_restored_epochs_first(tmp_path):
    class History:
        history = {"loss": [np.float32(0.5)], "val_acc": [0.9]}

    earlier = [{"loss": 2.0, "val_acc": 0.1}, {"loss": "nan", "val_acc": 0.2}]
    common.write_history(tmp_path, History(), earlier)
    written = json.loads((tmp_path / "history.json").read_text())
    assert written == {"loss": [2.0, "nan", 0.5], "val_acc": [0.1, 0.2, 0.9]}


def test_strategy_flags(monkeypatch):
    parser = common.recipe_parser("test", "runs/test")
    args = parser.parse_args([])
    assert (args.strategy, args.tpu, args.deterministic, args.final_weights) == (
        "default",
        None,
        False,
        None,
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["--strategy", "parameter_server"])
    assert common.make_strategy("default") is tf.distribute.get_strategy()
    one = common.make_strategy("one_device")
    assert isinstance(one, tf.distribute.OneDeviceStrategy)
    assert one.num_replicas_in_sync == 1
    with pytest.raises(SystemExit, match="exclude each other"):
        common.make_strategy("mirrored", tpu="grpc://10.0.0.1:8470")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit, match="TF_CONFIG environment variable, which is not set"):
        common.make_strategy("multi_worker")
    with pytest.raises(ValueError, match="`name` must be one of"):
        common.make_strategy("parameter_server")


def test_dtype_policy_flag_sets_the_global_policy_and_is_recorded(tmp_path):
    parser = common.recipe_parser("test", "runs/test")
    assert parser.parse_args([]).dtype_policy == "float32"
    with pytest.raises(SystemExit):
        parser.parse_args(["--dtype-policy", "bfloat16"])
    configs = {"quick": {"epochs": 1}, "full": {"epochs": 2}}
    args = parser.parse_args(
        ["--quick", "--out", str(tmp_path), "--dtype-policy", "mixed_bfloat16"]
    )
    try:
        config, run = common.prepare(args, configs)
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        assert config == {"epochs": 1, "dtype_policy": "mixed_bfloat16"}
        assert configs["quick"] == {"epochs": 1}  # the table itself is left alone
        layer = keras.layers.Dense(2)
        assert layer(np.ones((1, 3), np.float32)).dtype == "bfloat16"
        assert layer.kernel.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    config, _ = common.prepare(parser.parse_args(["--out", str(tmp_path)]), configs)
    assert keras.mixed_precision.global_policy().name == "float32"
    assert config == {"epochs": 2, "dtype_policy": "float32"}


def test_set_overrides_config_entries_with_their_types(tmp_path):
    parser = common.recipe_parser("test", "runs/test")
    configs = {
        "quick": {"epochs": 1, "dropout": 0.1, "units": 8, "tied": False, "cap": None},
        "full": {"epochs": 2},
    }
    argv = ["--quick", "--out", str(tmp_path), "--set", "dropout=0.5", "--set", "units = 16"]
    argv += ["--set", "tied=true", "--set", "cap=300", "--set", "epochs=3", "--epochs", "4"]
    config, _ = common.prepare(parser.parse_args(argv), configs)
    assert config == {
        "epochs": 4,  # --epochs wins over --set epochs=…
        "dropout": 0.5,
        "units": 16,
        "tied": True,
        "cap": 300,
        "dtype_policy": "float32",
    }
    assert type(config["dropout"]) is float and type(config["units"]) is int
    assert configs["quick"]["dropout"] == 0.1  # the table itself is left alone
    assert common.parse_overrides(["cap=none", "dropout=1"], configs["quick"]) == {
        "cap": None,
        "dropout": 1.0,
    }
    # `none` only where the entry may be None (round 5): units is an int in every configuration.
    with pytest.raises(SystemExit, match="cannot read 'none' as the int that 'units' holds"):
        common.parse_overrides(["units=none"], configs["quick"])


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("dropout", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
        ("droput=0.5", "has no 'droput'; its keys are cap, dropout, tied, units"),
        ("units=1.5", "cannot read '1.5' as the int that 'units' holds"),
        ("dropout=high", "cannot read 'high' as the float that 'dropout' holds"),
        ("tied=yes", "expected true or false"),
    ],
)
def test_set_rejects_unknown_keys_and_bad_values(assignment, message):
    config = {"dropout": 0.1, "units": 8, "tied": False, "cap": None}
    with pytest.raises(SystemExit, match=re.escape(message)):
        common.parse_overrides([assignment], config)
