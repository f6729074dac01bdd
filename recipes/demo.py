"""The main job on the embedded data: train → score → export → serve → answer a REST request.

    python recipes/demo.py            (what `make demo` runs)

1. trains the quick German→English translator on the bundled Ding corpus (recipes/translate.py
   --quick) and prints its test BLEU / chrF (sacrebleu) and example translations;
2. exports it in TF Serving's layout (``runs/demo/models/translator/<version>``) and proves it
   servable with the standalone checker (TF1 session loader, ops, signatures, warm-up);
3. starts the local TF Serving REST-compatible server on 127.0.0.1, waits for the model to be
   AVAILABLE, asks for a translation with the `keras_seq.serving.Client` and with plain `curl`
   (when installed), prints the answers, and stops the server (SIGTERM).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import translate  # noqa: E402  (recipes/translate.py, next to this file)

from keras_seq.cli import bounded_number  # noqa: E402
from keras_seq.export import check_export, export  # noqa: E402
from keras_seq.serving import Client, ServingError  # noqa: E402

SENTENCES = ["Er hat es tun müssen.", "Ich trinke keinen Alkohol.", "Das ist nicht meine Schuld."]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_available(client, process, seconds=120):
    """True once the served model is AVAILABLE; False if the server process ended first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            states = [v["state"] for v in client.status()]
            if "AVAILABLE" in states:
                return True
        except (ServingError, OSError):
            pass
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    raise RuntimeError(f"the server did not make the model AVAILABLE within {seconds} s")


def start_server(base_path, model_name, attempts=3):
    """``keras-seq serve`` on a free port of 127.0.0.1: (process, url).

    The port is free when chosen but bound by the server only after it has loaded the
    model; should another process take it in between, the server exits and a new port is
    tried.
    """
    for _ in range(attempts):
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "keras_seq.cli",
                "serve",
                "--model_base_path",
                base_path,
                "--model_name",
                model_name,
                "--rest_api_port",
                str(port),
            ],
        )
        url = f"http://127.0.0.1:{port}"
        if wait_until_available(Client(url, model_name), process):
            return process, url
        print(f"the server exited with status {process.returncode}; trying another port")
    raise RuntimeError(f"the server did not start in {attempts} attempts")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/demo")
    parser.add_argument(
        "--epochs", type=bounded_number(int, 1), help="override the quick config's epochs"
    )
    parser.add_argument(
        "--steps-per-epoch", type=bounded_number(int, 1), help="cap steps per epoch (smoke tests)"
    )
    parser.add_argument("--max-train-pairs", type=bounded_number(int, 1))
    args = parser.parse_args(argv)

    # 1. Train and score.
    train_args = ["--quick", "--out", os.path.join(args.out, "train")]
    for flag, value in (
        ("--epochs", args.epochs),
        ("--steps-per-epoch", args.steps_per_epoch),
        ("--max-train-pairs", args.max_train_pairs),
    ):
        if value:
            train_args += [flag, str(value)]
    results = translate.main(train_args)
    print(
        f"\n[1/3] test BLEU: greedy {results['greedy']['bleu']:.2f}, "
        f"beam {results['beam']['bleu']:.2f} (chrF {results['beam']['chrf']:.2f})"
    )

    # 2. Export and prove it servable.
    model = keras.saving.load_model(os.path.join(args.out, "train", "model.keras"))
    # The next version: --out may hold other exports (`--out .` once emptied ./models), and
    # the server serves the highest version, this one.
    base = os.path.join(args.out, "models")
    version_dir = export(model, base, name="translator")
    checked = check_export([version_dir])
    print(checked.stdout)
    if checked.returncode != 0:
        print(checked.stderr, file=sys.stderr)
        raise SystemExit("[2/3] the export did not pass the servability check")
    print(f"[2/3] exported and checked: {version_dir}")

    # 3. Serve and ask over REST.
    server, url = start_server(os.path.join(base, "translator"), "translator")
    try:
        client = Client(url, "translator")
        answer = client.predict([{"source": s} for s in SENTENCES])
        print("[3/3] REST :predict with keras_seq.serving.Client:")
        for source, prediction in zip(SENTENCES, answer, strict=True):
            print(f"  {source}  →  {prediction['translation']}")
        body = json.dumps({"instances": [{"source": SENTENCES[0]}]})
        command = ["curl", "-s", "-X", "POST", f"{url}/v1/models/translator:predict", "-d", body]
        if shutil.which("curl"):
            reply = subprocess.run(command, capture_output=True, text=True, timeout=60)
            print(f"  curl: {reply.stdout.strip()}")
        else:
            print("  (curl is not installed; the request would be: " + " ".join(command) + ")")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    print(f"server stopped (exit code {server.returncode}); demo OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
