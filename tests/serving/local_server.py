"""Helpers shared by the serving tests: a real uvicorn server on 127.0.0.1 in a thread."""

import os
import socket
import threading
import time

import uvicorn
from tensorflow_serving.config import model_server_config_pb2

from keras_seq.serving import create_app


def free_port():
    """A port free now; for a server in another process, which binds it a little later."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bound_socket():
    """A socket bound to a free port of 127.0.0.1, handed to uvicorn as it is: no other
    process can take the port between choosing it and serving on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def toy_config(base, versions=None):
    """ModelServerConfig for base/toy: all versions, or the given ones; label stable -> 1."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = "toy"
    model.base_path = str(base / "toy")
    model.model_platform = "tensorflow"
    if versions is None:
        model.model_version_policy.all.SetInParent()
    else:
        model.model_version_policy.specific.versions.extend(versions)
    model.version_labels["stable"] = 1
    return config


def listening_addresses(port):
    """The local IPv4 addresses with a socket listening on ``port`` (Linux /proc/net/tcp)."""
    addresses = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            local, state = line.split()[1], line.split()[3]
            address, local_port = local.split(":")
            if state == "0A" and int(local_port, 16) == port:  # 0A: LISTEN
                octets = bytes.fromhex(address)[::-1]  # stored little-endian
                addresses.add(".".join(str(b) for b in octets))
    return addresses


def tree_snapshot(root):
    """Every path under ``root`` with its size and modification time."""
    snapshot = {}
    for directory, _, files in os.walk(root):
        for name in [".", *files]:
            path = os.path.join(directory, name)
            info = os.stat(path)
            snapshot[os.path.relpath(path, root)] = (info.st_size, info.st_mtime_ns)
    return snapshot


class ServerThread:
    """The real uvicorn server on 127.0.0.1 in a thread of the test process."""

    def __init__(self, model_server, **options):
        self.socket = bound_socket()
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app = create_app(model_server, **options)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info):
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()
