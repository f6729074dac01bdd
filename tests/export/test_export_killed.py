"""A process killed (SIGKILL) in the middle of an export leaves no version a server would load."""

import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXPORT_SCRIPT = """
import sys
from keras_seq.export import export
from tests.export.toy_models import make_classifier
model = make_classifier(seed=1)
print("ready", flush=True)
export(model, sys.argv[1], name="toy")
print("done", flush=True)
"""


def _versions(model_dir):
    if not os.path.isdir(model_dir):
        return []
    return [name for name in os.listdir(model_dir) if name.isdigit()]


def test_sigkill_during_export_leaves_no_visible_version(tmp_path):
    model_dir = tmp_path / "toy"
    process = subprocess.Popen(
        [sys.executable, "-c", EXPORT_SCRIPT, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        # Kill as soon as the hidden temporary directory appears: the SavedModel is being
        # written and nothing has been renamed into place yet.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if model_dir.is_dir() and any(n.startswith(".tmp-") for n in os.listdir(model_dir)):
                break
            assert process.poll() is None, "the export ended before it could be killed"
            time.sleep(0.005)
        else:
            raise AssertionError("the export never created its temporary directory")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()  # else a ResourceWarning surfaces in a later test
    assert process.returncode == -signal.SIGKILL
    # Only hidden leftovers may remain; TF Serving considers all-digit names only.
    assert _versions(model_dir) == []
    # The next export still gets version 1, and is complete.
    run = subprocess.run(
        [sys.executable, "-c", EXPORT_SCRIPT, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert _versions(model_dir) == ["1"]
    assert (model_dir / "1" / "saved_model.pb").exists()
