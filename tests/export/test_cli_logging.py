"""`keras-seq` logs each record once: TensorFlow's logger has its own handler, and its
records also reached the root logger's, so `keras-seq serve` printed every TensorFlow
warning twice."""

import subprocess
import sys

PROGRAM = """
import logging
from keras_seq import cli
cli._configure_logging()
logging.getLogger("tensorflow").warning("tensorflow-marker")
logging.getLogger("keras_seq.serving").info("keras-seq-marker")
"""


def test_each_record_is_logged_once():
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stderr.count("tensorflow-marker") == 1, result.stderr
    assert result.stderr.count("keras-seq-marker") == 1, result.stderr
