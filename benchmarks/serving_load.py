"""Bounded load test of `keras-seq serve` on loopback: translation requests from concurrent clients.

Exports a small translator (or takes ``--model-dir``), starts ``keras-seq serve`` as a
subprocess on a free 127.0.0.1 port, and sends a fixed number of ``:predict`` requests (each a
German sentence of the bundled Ding test split) from N concurrent clients, each a thread with
its own ``requests.Session`` (keep-alive), within a time limit. Prints one JSON record:
failures (every answer must be a 200 with one translation per sentence), latency percentiles,
throughput, and the server's resident memory at start, after warm-up and at the end.

The default model is an *untrained* `keras_seq.models.Seq2Seq` (LSTM, Luong attention) with
WordPiece tokenizers learned on the first ``--tokenizer-sentences`` training pairs, exported
with beam search of ``--beam-size`` and an output bound of ``--max-length`` tokens. Untrained
weights cost exactly what trained ones do per step; an untrained decoder tends to run to the
output bound, so this is the slow case for a given bound.

    python benchmarks/serving_load.py                              # 2000 requests, 16 clients
    python benchmarks/serving_load.py --requests 500 --clients 8
    python benchmarks/serving_load.py --enable-batching        # server-side batching
    python benchmarks/serving_load.py --export-dir runs/serving_load     # keep the export
    python benchmarks/serving_load.py --model-dir runs/serving_load/translator
    python benchmarks/serving_load.py --long-source-bytes 1024 16384 65536   # + one-off probes

Exit status 0 when every request completed with a correct answer within the time limit.
"""

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import requests

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def at_least(minimum, maximum=None):
    """An argparse ``type``: an integer >= ``minimum`` (and <= ``maximum``, if given), else a
    usage error naming the flag."""

    def integer(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {value}")
        return value

    return integer


def positive_seconds(text):
    """An argparse ``type``: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    positive = at_least(1)
    parser.add_argument("--requests", type=positive, default=2000, help="requests to send in all")
    parser.add_argument("--clients", type=positive, default=16, help="concurrent client threads")
    parser.add_argument("--sentences-per-request", type=positive, default=1)
    parser.add_argument(
        "--time-limit", type=positive_seconds, default=600.0, help="seconds for the run"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model-dir", help="an exported model base directory (BASE/<version>)")
    source.add_argument(
        "--export-dir", help="where to export the default model and keep it (default: a temp dir)"
    )
    parser.add_argument("--model-name", default="translator")
    parser.add_argument("--signature", default="serving_default")
    parser.add_argument("--tokenizer-sentences", type=positive, default=300)
    parser.add_argument("--vocabulary-size", type=positive, default=400)
    parser.add_argument("--units", type=positive, default=64)
    parser.add_argument("--embedding-dim", type=positive, default=32)
    parser.add_argument("--beam-size", type=positive, default=4)
    parser.add_argument("--max-length", type=positive, default=30, help="output bound in tokens")
    parser.add_argument("--num-threads", type=positive, default=4, help="--rest_api_num_threads")
    # Checked here: the server refuses a negative one, but only after minutes of export.
    parser.add_argument("--max-queued", type=at_least(0), default=16, help="--max_queued_requests")
    parser.add_argument(
        "--timeout-ms", type=positive, default=30000, help="--rest_api_timeout_in_ms"
    )
    parser.add_argument(
        "--enable-batching", action="store_true", help="serve with --enable_batching"
    )
    parser.add_argument(
        "--long-source-bytes",
        type=positive,
        nargs="*",
        default=[],
        help="after the run, time one request with a source of each of these sizes",
    )
    parser.add_argument(
        "--seed", type=at_least(0, 2**32 - 1), default=0, help="of the exported model's weights"
    )
    args = parser.parse_args(argv)
    # Checked here, not after minutes of export: the server would wait for a version to appear
    # in a missing --model-dir (and the benchmark 300 s for the server), and the export
    # refuses to overwrite a version.
    if args.model_dir is not None:
        if not os.path.isdir(args.model_dir):
            parser.error(f"--model-dir {args.model_dir!r} is not a directory")
        if not any(
            name.isdigit() and os.path.isdir(os.path.join(args.model_dir, name))
            for name in os.listdir(args.model_dir)
        ):
            parser.error(
                f"--model-dir {args.model_dir!r} holds no version directory (BASE/<digits>); "
                "give the base directory of an export, e.g. runs/serving_load/translator"
            )
    elif args.export_dir is not None:
        version_dir = os.path.join(args.export_dir, args.model_name, "1")
        if os.path.exists(version_dir):
            parser.error(
                f"--export-dir: {version_dir!r} exists already; serve it with --model-dir "
                f"{os.path.join(args.export_dir, args.model_name)!r} or choose another directory"
            )
    return args


def export_translator(args, base_dir):
    """Exports an untrained Seq2Seq with WordPiece tokenizers; returns the model directory."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from keras_seq.datasets import load_ding
    from keras_seq.export import export
    from keras_seq.models import Seq2Seq
    from keras_seq.text import WordPieceTokenizer

    class BenchmarkTranslator(Seq2Seq):
        """Seq2Seq whose exported signatures use the benchmark's decoding constants."""

        def serving_signatures(self):
            return super().serving_signatures(
                beam_size=args.beam_size, n_best=args.beam_size, max_length=args.max_length
            )

    keras.utils.set_random_seed(args.seed)
    pairs = load_ding("train")[: args.tokenizer_sentences]
    source = WordPieceTokenizer.from_corpus(
        [s for s, _ in pairs], args.vocabulary_size, name="source_tokenizer"
    )
    target = WordPieceTokenizer.from_corpus(
        [t for _, t in pairs], args.vocabulary_size, name="target_tokenizer"
    )
    model = BenchmarkTranslator(
        embedding_dim=args.embedding_dim,
        units=args.units,
        source_tokenizer=source,
        target_tokenizer=target,
    )
    model.build()
    export(model, base_dir, name=args.model_name, version=1)
    return os.path.join(base_dir, args.model_name)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_megabytes(pid):
    """Resident set size of a process in MiB (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for process {pid}") from None
    return psutil.Process(pid).memory_info().rss / 2**20


def start_server(args, model_dir, port, log):
    """Starts ``keras-seq serve`` with its stderr written to the file ``log``; returns the
    process once the model is available (the process is killed if it does not get there)."""
    command = [
        sys.executable, "-m", "keras_seq.cli", "serve",
        "--model_base_path", model_dir, "--model_name", args.model_name,
        "--rest_api_port", str(port), "--rest_api_num_threads", str(args.num_threads),
        "--max_queued_requests", str(args.max_queued),
        "--rest_api_timeout_in_ms", str(args.timeout_ms), "--log_level", "warning",
    ] + (["--enable_batching"] if args.enable_batching else [])  # fmt: skip
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
    # A file, not a pipe: nothing reads a pipe during the run, and a server that logs many
    # failed requests would block on a full one.
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    status_url = f"http://127.0.0.1:{port}/v1/models/{args.model_name}"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}: {tail(log)}")
            try:
                status = requests.get(status_url, timeout=5).json()
                if status["model_version_status"][0]["state"] == "AVAILABLE":
                    return process
            except (requests.ConnectionError, KeyError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not become available within 300 s: {tail(log)}")
    except BaseException:
        process.kill()
        process.wait()
        raise


def tail(log, limit=3000):
    """The last ``limit`` characters written to the file ``log``."""
    log.flush()
    log.seek(0)
    return log.read()[-limit:]


def run_load(args, url, sentences, on_progress):
    """Sends ``args.requests`` requests from ``args.clients`` threads; returns the results."""
    lock = threading.Lock()
    next_index = [0]
    latencies = []
    failures = {}
    deadline = time.monotonic() + args.time_limit
    stopped = threading.Event()

    def take():
        with lock:
            index = next_index[0]
            if index >= args.requests or time.monotonic() > deadline or stopped.is_set():
                return None
            next_index[0] += 1
            return index

    def client():
        with requests.Session() as session:
            while (index := take()) is not None:
                start = index * args.sentences_per_request
                batch = [
                    sentences[(start + k) % len(sentences)]
                    for k in range(args.sentences_per_request)
                ]
                body = {"signature_name": args.signature, "instances": batch}
                began = time.perf_counter()
                try:
                    response = session.post(url, json=body, timeout=args.timeout_ms / 1000 + 10)
                    ok = response.status_code == 200 and _translations_ok(response, len(batch))
                    reason = None if ok else f"HTTP {response.status_code}"
                    if response.status_code == 200 and not ok:
                        reason += " without one translation per sentence"
                except requests.RequestException as error:
                    ok, reason = False, type(error).__name__
                elapsed = time.perf_counter() - began
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        failures[reason] = failures.get(reason, 0) + 1
                    done = len(latencies) + sum(failures.values())
                on_progress(done)

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    began = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        # On an interrupt the clients stop after their current request instead of sending
        # the rest to a server that is being stopped.
        stopped.set()
    return latencies, failures, time.perf_counter() - began


def _translations_ok(response, count):
    predictions = response.json().get("predictions")
    return (
        isinstance(predictions, list)
        and len(predictions) == count
        and all(isinstance(p.get("translation"), str) for p in predictions)
    )


def probe_long_sources(args, url, sizes):
    """Latency of one request whose source is a repeated sentence of about ``size`` bytes."""
    sentence = "Das ist nicht meine Schuld. "
    results = {}
    for size in sizes:
        text = (sentence * (size // len(sentence) + 1))[:size]
        began = time.perf_counter()
        response = requests.post(
            url,
            json={"signature_name": args.signature, "instances": [text]},
            timeout=args.timeout_ms / 1000 + 10,
        )
        results[str(size)] = {
            "status": response.status_code,
            "ms": round(1000 * (time.perf_counter() - began), 1),
        }
    return results


def main(argv=None):
    args = parse_args(argv)
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory())
        began = time.perf_counter()
        model_dir = args.model_dir or export_translator(args, args.export_dir or scratch)
        export_s = None if args.model_dir else round(time.perf_counter() - began, 1)
        from keras_seq.datasets import load_ding

        sentences = [german for german, _ in load_ding("test")]
        port = free_port()
        log = stack.enter_context(tempfile.TemporaryFile("w+"))
        process = start_server(args, model_dir, port, log)
        url = f"http://127.0.0.1:{port}/v1/models/{args.model_name}:predict"
        try:
            rss = {"start": rss_megabytes(process.pid)}
            warmup_mark = max(args.requests // 10, 1)

            def on_progress(done):
                if done == warmup_mark:
                    rss["after_warmup"] = rss_megabytes(process.pid)

            load_before = os.getloadavg()[0]
            latencies, failures, wall = run_load(args, url, sentences, on_progress)
            rss["end"] = rss_megabytes(process.pid)
            load_after = os.getloadavg()[0]
            long_sources = probe_long_sources(args, url, args.long_source_bytes)
        finally:
            process.terminate()
            returncode = process.wait(timeout=120)
    completed = len(latencies)
    milliseconds = 1000 * np.array(latencies)
    record = {
        "benchmark": "serving_load",
        "requests": args.requests,
        "clients": args.clients,
        "sentences_per_request": args.sentences_per_request,
        "completed": completed,
        "failed": sum(failures.values()),
        "failures": failures,
        "unsent": args.requests - completed - sum(failures.values()),
        "wall_s": round(wall, 2),
        "throughput_rps": round(completed / wall, 1),
        # Of the completed requests; null when none completed.
        "latency_ms": {
            "p50": round(float(np.percentile(milliseconds, 50)), 1),
            "p95": round(float(np.percentile(milliseconds, 95)), 1),
            "p99": round(float(np.percentile(milliseconds, 99)), 1),
            "max": round(float(milliseconds.max()), 1),
        }
        if completed
        else None,
        "server_rss_mib": {key: round(value, 1) for key, value in rss.items()},
        "server_exit_status": returncode,
        "long_source_latency": long_sources,
        # The model options describe the model this run exported; a --model-dir model was
        # exported with options this script does not know.
        "model": {
            "model_dir": args.model_dir or "exported untrained Seq2Seq",
            "signature": args.signature,
            **{
                key: None if args.model_dir else getattr(args, key)
                for key in ("units", "embedding_dim", "beam_size", "max_length")
            },
            "export_s": export_s,
        },
        "server": {
            "num_threads": args.num_threads,
            "max_queued": args.max_queued,
            "timeout_ms": args.timeout_ms,
            "enable_batching": args.enable_batching,
        },
        "machine": {"cpus": os.cpu_count(), "loadavg_1m": [load_before, load_after]},
    }
    print(json.dumps(record, indent=2))
    success = record["failed"] == 0 and record["unsent"] == 0 and returncode == 0
    return 0 if success else 1


if __name__ == "__main__":
    # A SIGTERM (a `timeout` or a job scheduler) unwinds through main's `finally`, which stops
    # the server, instead of leaving the server running without its parent.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.exit(main())
