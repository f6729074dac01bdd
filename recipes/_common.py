"""What every recipe shares: its command-line core, its tf.distribute strategy, its callbacks
and its output files.

A recipe calls `prepare` first (it creates the strategy, which must happen before any other
TensorFlow op when the strategy is multi-worker), builds and compiles its model under
``run.strategy.scope()`` and passes it to `build_for_fit`, feeds `model.fit` the stream that
`train_stream` makes and the callbacks of `training_callbacks`, and writes every file into
``run.out``. docs/scaling.md tells the whole story.
"""

import argparse
import atexit
import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from keras_seq.callbacks import AtomicBackupAndRestore, AtomicModelCheckpoint, StopOnNaN
from keras_seq.callbacks.atomic_backup_and_restore import loggable
from keras_seq.callbacks.atomic_model_checkpoint import write_atomically
from keras_seq.cli import bounded_number

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker")
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
# What a resumed run may change: where and how it runs, and for how many epochs; the rest
# decides what is trained (`--set` is read through the configuration it changes).
_RESUMABLE_CHANGES = ("out", "epochs", "set", "final_weights", "strategy", "tpu", "deterministic")
_SETTINGS_FILE = "settings.json"
# Next to the backup: the training time of each process of a run (`TrainingClock`).
_CLOCK_FILE = "training_time.json"
# The arguments that name your own data files (`own_data_paths`): a backup is resumed only
# with the same contents, not just the same paths.
_OWN_DATA_ARGUMENT = re.compile(r"(train|dev|test)_(tsv|conll|csv|text|source|target)")


def recipe_parser(description, default_out):
    """An argparse parser with the flags every recipe takes (--quick, --out, --epochs, --set,
    --steps-per-epoch, --seed, --strategy, --tpu, --deterministic, --dtype-policy,
    --final-weights); a recipe adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="the quick configuration")
    parser.add_argument("--out", default=default_out, help="output directory")
    parser.add_argument(
        "--epochs", type=bounded_number(int, 1), help="override the configuration's epochs"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one entry of the configuration (repeatable), e.g. --set dropout=0.5; "
        "the value takes the type of the entry it replaces (a list: comma-separated, e.g. "
        "--set hidden_units=128,64) and is recorded in results.json",
    )
    parser.add_argument(
        "--steps-per-epoch",
        type=bounded_number(int, 1),
        help="cap on the steps (batches) of an epoch (smoke tests); an epoch is at most one "
        "pass over the training data",
    )
    parser.add_argument("--seed", type=bounded_number(int, 0, 2**32 - 1), default=1)
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help="tf.distribute strategy: default (no strategy, one device), one_device, mirrored "
        "(all local GPUs), multi_worker (the cluster in TF_CONFIG; see docs/scaling.md). The "
        "configuration's batch_size is the global batch, split over the replicas",
    )
    parser.add_argument(
        "--tpu",
        metavar="ADDRESS",
        help="train with TPUStrategy on this TPU (TPUClusterResolver address; untested here)",
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic TensorFlow ops (tf.config.experimental.enable_op_determinism): "
        "a rerun, or a killed run resumed, gives the same weights; slower",
    )
    parser.add_argument(
        "--dtype-policy",
        choices=DTYPE_POLICIES,
        default="float32",
        help="Keras dtype policy for every layer: float32, or mixed_bfloat16 / mixed_float16 "
        "(float32 variables, 16-bit compute; docs/benchmarks.md has the measured effect)",
    )
    parser.add_argument(
        "--final-weights",
        metavar="PATH",
        help="also write the weights at the end of training (every worker) to PATH, an .npz "
        "with one array per model weight in `model.weights` order",
    )
    return parser


@dataclasses.dataclass
class Run:
    """Where and how this process trains.

    Attributes:
        strategy: the `tf.distribute.Strategy` to build and compile the model under.
        chief: bool. Whether this process writes the results (always, but for the non-chief
            workers of a multi-worker run).
        out: str. Where this process writes: ``--out`` for the chief, a temporary directory
            (removed at exit) for the other workers.
        backup_dir: str. ``--out/backup``, the training state that every worker restores.
        initial_epoch: int. The epoch training starts at (0, or the backup's).
        history: list of dict. Per-epoch logs of the epochs the backup already holds.
        final_weights: str or None. ``--final-weights``.
        clock: `TrainingClock` or None. Times the training across the processes of a resumed
            run (`training_callbacks` adds it; ``clock.report()`` gives results.json's times).
        stopped_early: bool. Whether the backup resumed is that of a run that had stopped
            early (set by `training_callbacks`; `fit_epochs` then trains no epoch).
    """

    strategy: tf.distribute.Strategy
    chief: bool
    out: str
    backup_dir: str
    initial_epoch: int
    history: list
    final_weights: str | None
    clock: keras.callbacks.Callback | None = None  # a TrainingClock, defined below
    stopped_early: bool = False  # the backup's run had stopped early (`training_callbacks`)


def make_strategy(name, tpu=None):
    """The `tf.distribute.Strategy` called ``name`` (one of `STRATEGIES`), or a TPUStrategy on
    ``tpu``. ``multi_worker`` reads the cluster and this process's task from ``TF_CONFIG``."""
    if tpu:
        if name != "default":
            raise SystemExit(f"--tpu and --strategy {name} exclude each other")
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "one_device":
        device = "/gpu:0" if tf.config.list_physical_devices("GPU") else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise SystemExit(
                "--strategy multi_worker reads the cluster from the TF_CONFIG environment "
                "variable, which is not set (see docs/scaling.md)"
            )
        try:
            json.loads(os.environ["TF_CONFIG"])
        except ValueError as error:
            raise SystemExit(
                f"--strategy multi_worker: the TF_CONFIG environment variable is not valid "
                f"JSON ({error}; see docs/scaling.md)"
            ) from None
        _average_logs_across_workers()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "default":
        return tf.distribute.get_strategy()
    raise ValueError(f"`name` must be one of {STRATEGIES}, got {name!r}.")


def is_chief(cluster_resolver):
    """True for the process that writes results: the only one when there is no cluster
    (``cluster_resolver`` None, as `Strategy.cluster_resolver` is outside multi-worker runs),
    else the task of type ``chief``, or worker 0 of a cluster that has no chief (the TF
    convention)."""
    if cluster_resolver is None or not cluster_resolver.task_type:
        return True
    if cluster_resolver.task_type == "chief":
        return True
    return (
        cluster_resolver.task_type == "worker"
        and cluster_resolver.task_id == 0
        and "chief" not in cluster_resolver.cluster_spec().as_dict()
    )


def parse_overrides(assignments, config, others=()):
    """``{key: value}`` from ``["key=value", …]`` (``--set``), each value converted to the type
    of ``config[key]`` (int, float, bool as true/false, str, a list as comma-separated items
    such as ``128,64`` or ``[128, 64]`` (empty for ``[]``); ``none`` for an entry that may be
    None, i.e. that is None in ``config`` or in one of ``others``; elsewhere ``none`` is read
    as a value of the entry's type, so ``tie_embeddings=none`` is refused). An entry that is
    None in ``config`` takes the type it has in one of ``others`` (the recipe's other
    configurations: ``tokenizer_sentences=abc`` is refused where the quick configuration
    holds an int), else an int or a str. A key the configuration lacks or a
    value of the wrong type exits with a message naming it."""
    overrides = {}
    for assignment in assignments:
        key, separator, text = assignment.partition("=")
        key, text = key.strip(), text.strip()
        if not separator or not key:
            raise SystemExit(f"--set {assignment!r}: expected KEY=VALUE, e.g. --set dropout=0.5")
        if key not in config:
            raise SystemExit(
                f"--set {assignment!r}: the configuration has no {key!r}; its keys are "
                f"{', '.join(sorted(config))}"
            )
        current = _example_value(key, config, others)
        nullable = any(key in c and c[key] is None for c in (config, *others))
        try:
            if text.lower() == "none" and nullable:
                value = None
            else:
                value = _read_value(text, current)
        except ValueError as error:
            raise SystemExit(
                f"--set {assignment!r}: cannot read {text!r} as the "
                f"{type(current).__name__} that {key!r} holds ({error})"
            ) from None
        overrides[key] = value
    return overrides


def _example_value(key, config, others=()):
    """``config[key]``, or where that is None the first value of ``key`` that is not None in
    ``others``: what gives the entry its type."""
    for candidate in (config, *others):
        if candidate.get(key) is not None:
            return candidate[key]
    return None


def _read_value(text, current):
    """``text`` read as a value of the type of ``current`` (see `parse_overrides`)."""
    if isinstance(current, bool):
        if text.lower() not in ("true", "false"):
            raise ValueError("expected true or false")
        return text.lower() == "true"
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    if isinstance(current, (list, tuple)):
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1].strip()
        items = [item.strip() for item in text.split(",")] if text else []
        if "" in items:
            raise ValueError("expected comma-separated items, e.g. 128,64")
        return [_read_value(item, current[0] if current else None) for item in items]
    # str, or an entry that is None in every configuration (an int when given)
    return int(text) if current is None and text.lstrip("-").isdigit() else text


def _check_values(config, configs, limits=None):
    """Exits naming the entry when a value of ``config`` (after ``--set``) has no meaning:
    every number in a recipe's configuration is a count or a size (an int >= 1; None only
    where one of ``configs`` holds None) or a rate (a finite float >= 0; ``dropout`` below 1),
    and every list holds counts. A negative count would have cut the data silently
    (``train[:-5]``), a negative learning rate trained uphill. ``limits`` are the recipe's
    own: ``{key: tuple of the values allowed}``, ``{key: minimum}`` (an int) or ``{key:
    function}`` (of the value, returning what is wrong with it as a str, or None when it is
    fine), checked here rather than by the model once the data is loaded."""
    for key, value in config.items():
        nullable = any(key in c and c[key] is None for c in configs.values())
        example = _example_value(key, config, configs.values())
        if value is None and nullable:
            continue
        if isinstance(example, bool):
            continue
        if isinstance(example, int) or key in ("epochs", "batch_size"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                or_none = " (or none)" if nullable else ""
                raise SystemExit(f"{key} must be an int >= 1{or_none}, got {value!r}")
        elif isinstance(example, float):
            if not isinstance(value, float) or not math.isfinite(value) or value < 0:
                raise SystemExit(f"{key} must be a finite float >= 0, got {value!r}")
            if key == "dropout" and value >= 1:
                raise SystemExit(f"dropout must be in [0, 1) (a rate), got {value!r}")
        elif isinstance(example, (list, tuple)) and all(
            isinstance(item, int) and not isinstance(item, bool) for item in example
        ):
            if not isinstance(value, list) or not all(
                isinstance(item, int) and not isinstance(item, bool) and item >= 1 for item in value
            ):
                raise SystemExit(f"{key} must be a list of ints >= 1, got {value!r}")
    for key, limit in (limits or {}).items():
        value = config.get(key)
        if isinstance(limit, tuple) and value not in limit:
            raise SystemExit(f"{key} must be one of {', '.join(map(str, limit))}, got {value!r}")
        if isinstance(limit, int) and isinstance(value, int) and value < limit:
            raise SystemExit(f"{key} must be >= {limit}, got {value!r}")
        if callable(limit) and value is not None:
            problem = limit(value)
            if problem:
                raise SystemExit(f"{key} {problem}, got {value!r}")


def prepare(args, configs, limits=None, scoring_arguments=()):
    """The chosen configuration (with --set and --epochs applied) and the `Run`.

    Creates the strategy (first: a multi-worker strategy must exist before any other op),
    makes ops deterministic if asked, seeds Keras, creates the output directory (a temporary
    one on non-chief workers) and reads the backup a killed run left. Exits with a message
    when ``--out`` is a file or cannot be created or written in, ``--final-weights`` cannot
    be written (a directory, or a place this process cannot write in: found out after
    training it would lose the run), a value has no meaning (`_check_values`: ``epochs``,
    ``batch_size`` and every other count not an int >= 1, a rate not a finite float >= 0, a
    value outside the recipe's ``limits``), or when the backup was made with other settings
    (configuration or arguments; only those of `_RESUMABLE_CHANGES` may change, and the
    recipe's ``scoring_arguments``, such as the translator's beam size, which only the scoring
    after training reads): resuming it would mix two trainings under the new configuration's
    name. Returns ``(config, run)``."""
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise SystemExit(f"--out {args.out} is a file, not a directory")
    if args.final_weights:
        _check_writable("--final-weights", args.final_weights)
    strategy = make_strategy(args.strategy, args.tpu)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(args.dtype_policy)
    if args.dtype_policy != "float32":
        print(f"dtype policy: {args.dtype_policy}")
    name = "quick" if args.quick else "full"
    config = dict(configs[name])
    others = [other for key, other in configs.items() if key != name]
    config.update(parse_overrides(args.set, config, others))
    if args.epochs is not None:
        config["epochs"] = args.epochs
    _check_values(config, configs, limits)
    config["dtype_policy"] = args.dtype_policy  # recorded with the configuration
    chief = is_chief(strategy.cluster_resolver)
    backup_dir = os.path.join(args.out, "backup")
    state = AtomicBackupAndRestore.saved_state(backup_dir)
    settings = _settings(args, config)
    if state:
        _check_same_settings(backup_dir, settings, scoring_arguments)
    if chief:
        out = args.out
        # Found before training, not as a traceback after it when the results are written.
        _make_writable_dir(out, f"--out {out}", "the directory")
    else:
        resolver = strategy.cluster_resolver
        out = tempfile.mkdtemp(prefix=f"keras_seq_{resolver.task_type}{resolver.task_id}_")
        atexit.register(shutil.rmtree, out, ignore_errors=True)
    keras.utils.set_random_seed(args.seed)
    if chief and not state:
        os.makedirs(backup_dir, exist_ok=True)  # `finish` deletes it
        write_json(backup_dir, _SETTINGS_FILE, settings)
    initial_epoch = state["epoch"] if state else 0
    run = Run(
        strategy=strategy,
        chief=chief,
        out=out,
        backup_dir=backup_dir,
        initial_epoch=initial_epoch,
        history=state["history"] if state else [],
        final_weights=args.final_weights,
        clock=TrainingClock(
            backup_dir if chief else os.path.join(out, "backup"),
            read_training_time(backup_dir) if state else [],
            initial_epoch,
        ),
    )
    if strategy.num_replicas_in_sync > 1 or not chief:
        print(
            f"strategy: {args.strategy} ({type(strategy).__name__}), "
            f"{strategy.num_replicas_in_sync} replicas"
            f"{'' if chief else f', not the chief (writing to {out})'}"
        )
    if state:
        print(f"resuming from the backup in {backup_dir}: epoch {run.initial_epoch + 1}")
    return config, run


def _check_writable(flag, path):
    """Exits unless ``path`` can be written as a file: not a directory, and its directory
    exists (or can be created) and is writable."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise SystemExit(f"{flag} {path} is a directory; give a file name, e.g. {path}/weights.npz")
    directory = os.path.dirname(os.path.abspath(path))
    _make_writable_dir(directory, f"{flag} {path}", "its directory", directory)


def _make_writable_dir(directory, label, what, where="the directory"):
    """Creates ``directory`` if need be; exits with ``label: cannot create <what> (...)`` or
    ``label: cannot write in <where>`` when it cannot be created or written in."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise SystemExit(f"{label}: cannot create {what} ({error})") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SystemExit(f"{label}: cannot write in {where}")


def _settings(args, config):
    """What a run trains, as JSON values: its configuration but ``epochs``, its arguments but
    those of `_RESUMABLE_CHANGES`, and (only with your own data files) the SHA-256 of each
    file's contents: a file rewritten under the same name between a kill and the rerun would
    have been resumed, its tokenizer and classes learned anew under the old weights."""
    settings = {
        "config": {key: value for key, value in config.items() if key != "epochs"},
        "arguments": {
            key: value for key, value in vars(args).items() if key not in _RESUMABLE_CHANGES
        },
    }
    data = {}
    for key, value in sorted(vars(args).items()):
        if _OWN_DATA_ARGUMENT.fullmatch(key) and value is not None and os.path.isfile(value):
            try:
                data[key] = _file_digest(value)
            except OSError as error:  # unreadable: named here, before its reader would
                flag = f"--{key.replace('_', '-')}"
                raise SystemExit(f"{flag} {value}: {error.strerror or error}") from None
    if data:  # absent for the bundled corpora: their settings files are as before
        settings["data"] = data
    return json.loads(json.dumps(settings))


def _file_digest(path):
    """``sha256:<hex>`` of the bytes of the file ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def _check_same_settings(backup_dir, settings, scoring_arguments=()):
    """Exits naming the differences when the backup in ``backup_dir`` was made with other
    ``settings``, your own data files' contents included (a backup without a settings file,
    from an older keras_seq, is trusted). The arguments ``scoring_arguments`` may differ: only
    the scoring after training reads them (they stay recorded, so that a backup written
    before they could change still resumes with either)."""
    path = os.path.join(backup_dir, _SETTINGS_FILE)
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    changes = []
    for group, label in (("config", "{}"), ("arguments", "--{}")):
        before, now = saved.get(group, {}), settings[group]
        for key in sorted(set(before) | set(now)):
            if group == "arguments" and (
                key in scoring_arguments or _compared_by_contents(key, saved, settings)
            ):
                continue
            if before.get(key) != now.get(key):
                name = label.format(key.replace("_", "-") if group == "arguments" else key)
                changes.append(f"{name} {before.get(key)!r} -> {now.get(key)!r}")
    # Your own files: a backup of an older keras_seq, without their digests, is trusted.
    before, now = saved.get("data", {}), settings.get("data", {})
    for key in sorted(set(before) & set(now)):
        if before[key] != now[key]:
            flag = f"--{key.replace('_', '-')}"
            changes.append(f"the contents of {flag} {settings['arguments'][key]} changed")
    if changes:
        raise SystemExit(
            f"{backup_dir} holds the backup of a killed run with other settings "
            f"({'; '.join(changes)}): rerun the command that made it to resume that run, or "
            f"delete {backup_dir} to start a new one"
        )


def _compared_by_contents(key, saved, settings):
    """Whether the argument ``key`` names your own data file whose SHA-256 both ``saved`` and
    ``settings`` hold: its contents decide (compared with the rest of ``data``), whatever
    the path says (``train.tsv`` and ``$PWD/train.tsv``, or a file moved since the kill)."""
    return (
        _OWN_DATA_ARGUMENT.fullmatch(key) is not None
        and key in saved.get("data", {})
        and key in settings.get("data", {})
    )


def add_own_data_arguments(parser, suffix, train_help):
    """Adds ``--train-<suffix>`` (described by ``train_help``), ``--dev-<suffix>`` and
    ``--test-<suffix>``: your own files for the three splits (`own_data_paths` reads them)."""
    parser.add_argument(f"--train-{suffix}", metavar="PATH", help=train_help)
    parser.add_argument(f"--dev-{suffix}", metavar="PATH", help="your own dev file")
    parser.add_argument(f"--test-{suffix}", metavar="PATH", help="your own test file")


def own_data_paths(args, suffix, file_kind):
    """``{split: path}`` of ``--train-<suffix>``, ``--dev-<suffix>`` and ``--test-<suffix>``
    (the user's own files instead of the bundled corpus; empty when none is given); exits
    with a usage message unless all three name existing files (not directories), or none
    does. ``file_kind`` names the file a directory was given for."""
    paths = {split: getattr(args, f"{split}_{suffix}") for split in ("train", "dev", "test")}
    missing = [f"--{split}-{suffix}" for split, path in paths.items() if path is None]
    if len(missing) == len(paths):
        return {}
    if missing:
        raise SystemExit(
            f"--train-{suffix}, --dev-{suffix} and --test-{suffix} go together (your own data "
            f"for all three splits); missing: {', '.join(missing)}"
        )
    for split, path in paths.items():
        if os.path.isdir(path):
            raise SystemExit(f"--{split}-{suffix} {path} is a directory; give the {file_kind}")
        if not os.path.exists(path):
            raise SystemExit(f"--{split}-{suffix} {path}: no such file")
        if not os.path.isfile(path):
            # A pipe (`<(zcat train.gz)`) exists: "no such file" sent its user looking for it.
            raise SystemExit(
                f"--{split}-{suffix} {path} is not a regular file (a pipe or a device); give "
                f"the {file_kind} itself (compressed files are read as they are)"
            )
    return paths


def refuse_without_own_data(args, names, suffix, file_kind):
    """Exits with a usage message when one of the arguments ``names`` (options of your own
    files, e.g. ``word_column``) is given without ``--train-<suffix>`` and its twins."""
    given = [f"--{name.replace('_', '-')}" for name in names if getattr(args, name) is not None]
    if given:
        raise SystemExit(
            f"{' and '.join(given)} read your own {file_kind} files: give --train-{suffix}, "
            f"--dev-{suffix} and --test-{suffix} too"
        )


def read_own_data(paths, suffix, read, example_kind):
    """``{split: examples}`` of the files of `own_data_paths`, each read with
    ``read(path)`` (a `keras_seq.datasets` reader with ``strict=False``: malformed lines are
    skipped and counted); exits naming the flag and the file when a file cannot be read (a
    corrupt compressed file, say) or holds no ``example_kind``.

    A split may also be a tuple of files read together (``read(*paths)``, the aligned source
    and target files of `read_parallel_files`) whose flags are ``--<split>-<s>`` for each
    ``s`` of the tuple ``suffix``."""
    examples = {}
    suffixes = suffix if isinstance(suffix, tuple) else (suffix,)
    for split, path in paths.items():
        files = path if isinstance(path, tuple) else (path,)
        flag = "/".join(f"--{split}-{name}" for name in suffixes)
        named = " / ".join(os.fspath(file) for file in files)
        try:
            result = read(*files)
        except (OSError, ValueError) as error:  # unreadable, corrupt compressed file, ...
            message = str(error)
            # The readers' messages mostly start with the file they are about.
            where = "" if message.startswith(tuple(map(os.fspath, files))) else f" {named}"
            raise SystemExit(f"{flag}{where}: {message}") from None
        if result.skipped:
            print(f"{named}: skipped {len(result.skipped)} malformed lines")
        if not result.examples:
            files_word = "files" if len(files) > 1 else "file"
            raise SystemExit(f"{flag} {named}: no {example_kind} in the {files_word}")
        examples[split] = result.examples
    return examples


def labels_of_splits(splits, labels, noun):
    """Every label of the ``{split: examples}`` of your own files, sorted (``labels(example)``
    gives an example's labels): a label the training file lacks (or the examples
    --max-train-examples keeps) is still a class, one the model never predicts. Prints the
    labels of dev / test that the training file lacks, as ``noun``."""
    every = sorted(
        {label for examples in splits.values() for example in examples for label in labels(example)}
    )
    unseen = sorted(
        set(every) - {label for example in splits["train"] for label in labels(example)}
    )
    if unseen:
        print(f"{noun} of dev / test not in the training file: {' '.join(unseen)}")
    return every


def train_stream(run, dataset, steps_per_epoch=None):
    """``(stream, steps_per_epoch)`` for `model.fit`: the epochs of ``dataset`` back to back
    (``dataset.repeat()``: a pipeline with ``reshuffle_each_iteration`` gives each epoch its own
    order, the same on every run with the same seeds), from epoch ``run.initial_epoch`` on.

    Skipping the epochs a backup already holds is what makes a resumed run see the batches the
    uninterrupted run would have seen. ``steps_per_epoch`` defaults to the dataset's
    cardinality and is capped by it (a larger one would make each "epoch" several passes over
    the data); the steps skipped on resume are the capped ones. A dataset known to be empty
    (the pipeline dropped every example: too long for the configuration, or without a token)
    exits with a message: `fit` would train nothing (with ``steps_per_epoch``, Keras only
    warns that the data ran out)."""
    cardinality = int(dataset.cardinality())  # < 0: infinite or unknown
    if cardinality == 0:
        raise SystemExit(
            "the training data holds no batch: the pipeline kept none of the examples (all "
            "longer than the configuration's length limit, or without a token); nothing to "
            "train on"
        )
    steps = steps_per_epoch or cardinality
    if steps_per_epoch and cardinality > 0:
        steps = min(steps_per_epoch, cardinality)
    if steps < 1:
        raise ValueError(f"`dataset` has no known length ({cardinality}): pass steps_per_epoch.")
    return dataset.repeat().skip(run.initial_epoch * steps), steps


def build_for_fit(run, model, dataset):
    """Builds the compiled state (metrics, loss, optimizer) of ``model`` from the element spec
    of ``dataset`` under a (multi-worker) mirrored strategy, where Keras 3.15's `fit` cannot.

    Under a strategy, `fit` first all-reduces one batch across the replicas to build that
    state (``_maybe_symbolic_build`` in keras/src/backend/tensorflow/trainer.py); with
    MultiWorkerMirroredStrategy the collective reduce rejects an ``(inputs, targets)``
    structure ("Attempt to convert a value (PerReplica...)", keras-team/keras#20585), and the
    workers' batches would not even agree in length. Under MirroredStrategy a first batch
    that does not split evenly (a global batch of 3 on 2 replicas, 32 on 3 GPUs) fails the
    same step ("Inputs to operation AddN ... must have the same size and shape"). Only shapes
    and dtypes are needed: they are taken from ``dataset.element_spec`` and that step of `fit`
    is skipped for this model.

    Nothing is done under other strategies (one device, TPUStrategy)."""
    mirrored = (tf.distribute.MultiWorkerMirroredStrategy, tf.distribute.MirroredStrategy)
    if not isinstance(run.strategy, mirrored):
        return
    with run.strategy.scope():
        model._symbolic_build(data_batch=dataset.element_spec)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def _average_logs_across_workers():
    """Makes Keras 3.15 average the logs of a multi-worker `fit` / `evaluate` step.

    Its ``reduce_per_replica`` (keras/src/backend/tensorflow/trainer.py) reduces each log with
    ``strategy.reduce("MEAN", value, axis=0)`` under MultiWorkerMirroredStrategy, which fails
    on the scalar logs of every step ("Invalid reduction dimension 0 for input with 0
    dimensions", keras-team/keras#20585): no multi-worker `fit` gets past its first step. The
    logs are averaged over the replicas instead (``axis=None``): every worker then sees the
    same logs and takes the same decisions (best checkpoint, early stopping). `predict`'s
    ``"concat"`` and the other strategies are left to Keras."""
    from keras.src.backend.tensorflow import trainer

    keras_reduce = trainer.reduce_per_replica
    if getattr(keras_reduce, "averages_across_workers", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy
        ):
            return keras_reduce(values, strategy, reduction)

        def average(value):
            if isinstance(value, tf.distribute.DistributedValues) or tf.is_tensor(value):
                return strategy.reduce("MEAN", value, axis=None)
            return value

        return tf.nest.map_structure(average, values)

    reduce_per_replica.averages_across_workers = True
    trainer.reduce_per_replica = reduce_per_replica


def training_callbacks(run, monitor, mode="min", patience=3, before=()):
    """Best-model checkpoint to ``run.out/model.keras`` and early stopping on ``monitor``
    (`ResumedEarlyStopping`: on resume, from the logs of the backup's epochs; sets
    ``run.stopped_early`` when they had stopped the run, for `fit_epochs`);
    a backup in ``run.backup_dir`` so that rerunning a killed command resumes (kept when `fit`
    ends: `finish` deletes it once the recipe has written its results, so a failure while
    scoring resumes too, without training again); a stop with a message at the first NaN
    loss (before the epoch's checkpoints are written); ``run.clock``, which times the training
    across the processes of a resumed run.
    ``before`` are callbacks that must run first (e.g. one that adds ``monitor`` to the logs).
    Returns ``(callbacks, best_model_path)``."""
    best_path = os.path.join(run.out, "model.keras")
    # On resume the checkpoint must still beat the best epoch before the kill.
    seen = [logs[monitor] for logs in run.history if isinstance(logs.get(monitor), float)]
    best = (max if mode == "max" else min)(seen) if seen else None
    # On resume the patience goes on from the epochs before the kill, as in a run trained in one
    # go; a backup whose run had already stopped early (killed while scoring) trains no further.
    early_stopping = ResumedEarlyStopping(
        run.history, monitor=monitor, mode=mode, patience=patience
    )
    stopped = early_stopping.replay()
    if stopped is not None:
        run.stopped_early = True
        print(
            f"the run in {run.backup_dir} stopped early after epoch {stopped + 1} ({monitor} "
            f"did not improve for {patience} epochs): training no further"
        )
    callbacks = [
        *before,
        StopOnNaN(),
        AtomicModelCheckpoint(
            best_path,
            monitor=monitor,
            mode=mode,
            save_best_only=True,
            initial_value_threshold=best,
        ),
        early_stopping,
        # Before the backup: the time of an epoch is on disk when its backup is committed.
        *([run.clock] if run.clock else []),
        AtomicBackupAndRestore(
            run.backup_dir,
            write_dir=None if run.chief else os.path.join(run.out, "backup"),
            delete_checkpoint=False,
        ),
    ]
    if run.final_weights:
        callbacks.append(
            keras.callbacks.LambdaCallback(
                on_train_end=lambda logs: write_weights(run.final_weights, callbacks[0].model)
            )
        )
    return callbacks, best_path


def fit_epochs(run, epochs):
    """The ``epochs`` argument of `model.fit`: ``epochs`` (the configuration's), or
    ``run.initial_epoch`` (no epoch to train) when the backup resumed is that of a run that had
    stopped early (`training_callbacks` found it): the run trained in one go ended there."""
    return run.initial_epoch if run.stopped_early else epochs


class ResumedEarlyStopping(keras.callbacks.EarlyStopping):
    """`keras.callbacks.EarlyStopping` that goes on from the logs of the epochs before a resume.

    Keras' callback starts afresh at each `fit`: a killed run resumed from its backup waited
    ``patience`` epochs more than the run trained in one go (its best value and patience counter
    were lost with the process), so it trained other epochs and saved another best model. Here
    `on_train_begin` replays ``earlier`` (``run.history``: the per-epoch logs the backup holds,
    non-finite values stored as "nan", "inf") through Keras' rule, so that the next epoch ends
    with the best value, best epoch and patience counter of the uninterrupted run. `replay`
    also says whether that run had already stopped. ``restore_best_weights`` is not supported
    (the earlier epochs' weights are gone).

    Args:
        earlier: list of dict. The logs of the epochs trained before this `fit`, in order.
        **kwargs: those of `keras.callbacks.EarlyStopping`.
    """

    def __init__(self, earlier, **kwargs):
        if kwargs.get("restore_best_weights"):
            raise ValueError("ResumedEarlyStopping does not support restore_best_weights.")
        super().__init__(**kwargs)
        self.earlier = [dict(logs) for logs in earlier]

    def replay(self):
        """Resets the state and replays ``earlier``; returns the epoch (0-based) at which the
        run had stopped, or None."""
        super().on_train_begin()
        if self.monitor_op is None:
            self._set_monitor_op()
        for epoch, logs in enumerate(self.earlier):
            current = _logged_number(logs.get(self.monitor))
            # Keras' `on_epoch_end`, but for what only a live model has (`stop_training`).
            if current is None or epoch < self.start_from_epoch:
                continue
            self.wait += 1
            if self._is_improvement(current, self.best):
                self.best = current
                self.best_epoch = epoch
                if self.baseline is None or self._is_improvement(current, self.baseline):
                    self.wait = 0
                continue
            if self.wait >= self.patience and epoch > 0:
                self.stopped_epoch = epoch
                return epoch
        return None

    def on_train_begin(self, logs=None):
        self.replay()


def _logged_number(value):
    """A value of a backup's logs as a number: "nan", "inf" and "-inf" (as the backup writes
    them) as floats; None for a missing value or one that is not a number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return value


def finish(run):
    """Deletes the backup of this run (``run.backup_dir``, or a non-chief worker's own copy):
    the last step of a recipe, after its results are written. A rerun of the same command
    then trains a new model."""
    shutil.rmtree(
        run.backup_dir if run.chief else os.path.join(run.out, "backup"), ignore_errors=True
    )


class TrainingClock(keras.callbacks.Callback):
    """The wall time of a run's training, across the processes of a killed run resumed.

    One process's `fit` time (from `on_train_begin` to `on_train_end`) is the training time of
    a run trained in one go; a rerun that resumes a killed run's backup only times the epochs
    after the resume (results.json left out the first process's epochs, and a tokens/s of the
    rerun was that of its own epochs). Every process that trains therefore records itself in
    ``training_time.json`` next to the backup, at `fit` start and at each epoch end, before
    the backup of that epoch is committed (`training_callbacks` lists this callback before
    `AtomicBackupAndRestore`), through a temporary file: ``{"processes": [{"initial_epoch":
    e, "epochs": {"<n>": {"seconds": s, <part>: s, …}}}, …]}``, the seconds since its `fit`
    began at the end of epoch n, and the cumulative seconds of the parts of the training
    timed apart (`time_part`: the translator's dev-set decoding). The rerun reads the file
    (`read_training_time`) and counts each earlier process up to the epoch the next process
    resumed from (`counted_times`): what a process trained past its last backup (an epoch cut
    short by the kill) is trained again, and counted once, in the process that finished it.

    Args:
        write_dir: str. Where this process writes ``training_time.json`` (the directory its
            `AtomicBackupAndRestore` writes to).
        earlier: list of dict. The earlier processes of the run (`read_training_time`; ``[]``
            for a new run).
        initial_epoch: int. The epoch this process starts at (the backup's).
    """

    def __init__(self, write_dir, earlier, initial_epoch):
        super().__init__()
        self.write_dir = write_dir
        self.earlier = list(earlier)
        self.initial_epoch = initial_epoch
        self._parts = {}
        self._started = None
        self._ended = None
        self._entry = None

    def time_part(self, name, seconds):
        """Also records the part ``name`` of the training: ``seconds()`` gives the seconds of
        this process's `fit` spent on it so far (e.g. ``lambda: dev_evaluation.seconds``)."""
        self._parts[name] = seconds

    def _now(self):
        return {
            "seconds": time.perf_counter() - self._started,
            **{name: float(seconds()) for name, seconds in self._parts.items()},
        }

    def on_train_begin(self, logs=None):
        self._started = time.perf_counter()
        self._ended = None
        self._entry = {"initial_epoch": self.initial_epoch, "epochs": {}}
        self._write()

    def on_epoch_end(self, epoch, logs=None):
        self._entry["epochs"][str(epoch + 1)] = self._now()
        self._write()

    def on_train_end(self, logs=None):
        self._ended = self._now()

    def _write(self):
        os.makedirs(self.write_dir, exist_ok=True)
        write_json(self.write_dir, _CLOCK_FILE, {"processes": [*self.earlier, self._entry]})

    def report(self):
        """results.json's times of the whole run, once `fit` has ended (`training_time`)."""
        if self._ended is None:
            raise RuntimeError("`report` needs a `fit` that ran with this callback to its end.")
        return training_time(counted_times(self.earlier, self.initial_epoch), self._ended)


def read_training_time(backup_dir):
    """The processes of the run whose backup is in ``backup_dir``, as ``training_time.json``
    holds them (`TrainingClock`). A backup of an older keras_seq, without the file, gives one
    process (at least) of unknown time: ``[{"initial_epoch": 0, "epochs": {}}]``."""
    path = os.path.join(backup_dir, _CLOCK_FILE)
    if not os.path.exists(path):
        return [{"initial_epoch": 0, "epochs": {}}]
    with open(path, encoding="utf-8") as f:
        return json.load(f)["processes"]


def counted_times(processes, resumed_from):
    """The time that counts of each of ``processes`` (``training_time.json``'s entries, in the
    order they ran): its ``{"seconds": s, <part>: s, …}`` at the end of the epoch the next
    process started at (after the last one: ``resumed_from``, the epoch of the backup resumed
    now); ``{"seconds": 0.0}`` for a process that committed no backup (the next one started
    where it did); None where that epoch's time is missing (not known)."""
    counted = []
    for index, process in enumerate(processes):
        following = processes[index + 1 :]
        until = following[0]["initial_epoch"] if following else resumed_from
        if until == process["initial_epoch"]:
            counted.append({"seconds": 0.0})
        else:
            counted.append(process["epochs"].get(str(until)))
    return counted


def training_time(earlier, this):
    """results.json's times of a run whose earlier processes count ``earlier`` (from
    `counted_times`, None where not known) and whose last process's `fit` took ``this``
    (``{"seconds": s, <part>: s, …}``): ``train_seconds`` (the sum over the processes; None
    when one is not known), ``resumed`` (the number of resumes from a backup,
    ``len(earlier)``: 0 for a run trained in one go), ``train_seconds_per_process`` and, for
    each part of ``this``, its sum over the processes (None when one is not known)."""
    processes = [*earlier, this]
    known = None not in earlier
    times = {
        "train_seconds": sum(p["seconds"] for p in processes) if known else None,
        "resumed": len(earlier),
        "train_seconds_per_process": [None if p is None else p["seconds"] for p in processes],
    }
    for part in this:
        if part != "seconds":
            times[part] = sum(p.get(part, 0.0) for p in processes) if known else None
    return times


def write_weights(path, model):
    """``path`` (.npz): the model's weights, ``w0``, ``w1``… in `model.weights` order. Written
    to ``path`` itself (`np.savez` given a name would add ``.npz`` to one without it), its
    directory created if need be (`prepare` has checked that it can be written), through a
    temporary file (`write_atomically`)."""
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    arrays = {f"w{i}": w.numpy() for i, w in enumerate(model.weights)}
    write_atomically(path, lambda f: np.savez(f, **arrays), mode="wb")


def write_json(out, name, data):
    """``out/name``: ``data`` as JSON, through a temporary file (`write_atomically`)."""
    write_atomically(os.path.join(out, name), lambda f: json.dump(data, f, indent=1))


def write_history(out, history, earlier=()):
    """``out/history.json``: the per-epoch logs of a `fit`, after those of ``earlier`` epochs
    (``run.history``: what a resumed run restored). A NaN or infinite value is written as the
    backup keeps it, the string "nan", "inf" or "-inf": as a float it was written as ``NaN`` /
    ``Infinity``, which is not JSON (strict parsers refuse the file), and the history.json of
    a resumed run differed from that of the run trained in one go."""
    keys = {key for logs in earlier for key in logs} | set(history.history)
    merged = {key: [logs.get(key) for logs in earlier] for key in keys}
    for key in keys:
        merged[key] += [loggable(x) for x in history.history.get(key, [])]
    write_json(out, "history.json", merged)
