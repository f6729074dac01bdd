"""``keras-seq serve`` checks its REST port before it loads any model: a port another server
holds is a one-line error at once, not minutes of loading followed by uvicorn's exit."""

import os
import socket
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def serve(base, port, host="127.0.0.1"):
    command = [
        sys.executable, "-m", "keras_seq.cli", "serve",
        "--model_base_path", str(base), "--model_name", "toy",
        "--rest_api_port", str(port), "--rest_api_host", host,
    ]  # fmt: skip
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def test_a_taken_port_stops_serve_before_any_model_loads(toy_version_dir):
    base = os.path.dirname(toy_version_dir)  # BASE/toy, holding version 1
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        run = serve(base, port)
    assert run.returncode == 1, run.stderr[-2000:]
    assert run.stderr.strip().splitlines()[-1] == (
        f"serve: cannot listen on 127.0.0.1:{port}: address already in use"
    )
    # The model was never loaded: ModelServer logs "serving toy version 1 from ..." at INFO,
    # the level the command logs at.
    assert "serving toy version" not in run.stderr
    assert "Traceback" not in run.stderr


def test_an_address_of_no_interface_here_is_named(toy_version_dir):
    run = serve(os.path.dirname(toy_version_dir), 8501, host="192.0.2.1")  # TEST-NET-1: never local
    assert run.returncode == 1, run.stderr[-2000:]
    assert run.stderr.strip().splitlines()[-1] == (
        "serve: cannot listen on 192.0.2.1:8501: cannot assign requested address"
    )
    assert "serving toy version" not in run.stderr
