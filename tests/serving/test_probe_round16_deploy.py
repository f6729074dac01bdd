"""Deployment plumbing (audit round 16): serving/docker_run.sh run against a stand-in
``docker``, the thread pools of serving/kubernetes.yaml, and the package data that
pyproject.toml puts in the wheel."""

import fnmatch
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVING = ROOT / "serving"
PACKAGE = ROOT / "keras_seq"

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")


def _flags(text):
    """``--name=value`` flags, one a line (a shell continuation or a YAML list item)."""
    return dict(re.findall(r"^\s*-?\s*--(\w+)=(\S+?)\s*\\?$", text, re.MULTILINE))


# --- serving/kubernetes.yaml ------------------------------------------------------------------


def test_kubernetes_sizes_tensorflow_thread_pools_by_the_cpu_limit():
    # TensorFlow sizes its pools by the node's cores (a CFS quota leaves all of them
    # schedulable): a pod limited to 4 CPUs on a large node ran one intra-op thread per node
    # core and was throttled. TF Serving sets the session's pools from these two flags.
    text = (SERVING / "kubernetes.yaml").read_text()
    flags = _flags(text)
    limit = re.search(r"limits: \{cpu: \"(\d+)\"", text)
    assert limit is not None
    cpus = int(limit[1])
    assert flags.get("tensorflow_intra_op_parallelism") == str(cpus)
    assert flags.get("tensorflow_inter_op_parallelism") == str(cpus)
    # TF Serving refuses tensorflow_session_parallelism together with both of them.
    assert "tensorflow_session_parallelism" not in flags


def test_docker_and_kubernetes_agree_on_the_flags_they_share():
    docker = _flags((SERVING / "docker_run.sh").read_text())
    kubernetes = _flags((SERVING / "kubernetes.yaml").read_text())
    shared = set(docker) & set(kubernetes)
    assert {"model_config_file", "batching_parameters_file", "rest_api_timeout_in_ms"} <= shared
    assert {name: docker[name] for name in shared} == {name: kubernetes[name] for name in shared}


# --- serving/docker_run.sh --------------------------------------------------------------------


@pytest.fixture
def fake_docker(tmp_path):
    """A ``docker`` first on PATH that prints its arguments, one a line."""
    if shutil.which("bash") is None:
        pytest.skip("docker_run.sh is a bash script")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\"\n")
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}

    def run(*args):
        return subprocess.run(
            ["bash", str(SERVING / "docker_run.sh"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    return run


def test_docker_run_mounts_a_relative_models_dir_by_its_absolute_path(tmp_path, fake_docker):
    models = tmp_path / "models"
    models.mkdir()
    for name in ("models.config", "batching_parameters.txt"):
        shutil.copy(SERVING / name, models / name)
    result = fake_docker("models")
    assert result.returncode == 0, result.stderr
    arguments = result.stdout.splitlines()
    mount = arguments[arguments.index("--mount") + 1]
    # Before, "source=models": Docker before 23.0 refuses a relative bind source.
    assert mount == f"type=bind,source={models.resolve()},target=/models,readonly"
    assert "tensorflow/serving:2.21.0" in arguments


@pytest.mark.parametrize("missing", ["models.config", "batching_parameters.txt"])
def test_docker_run_refuses_a_models_dir_without_the_files_its_flags_name(
    tmp_path, fake_docker, missing
):
    models = tmp_path / "models"
    models.mkdir()
    for name in ("models.config", "batching_parameters.txt"):
        if name != missing:
            shutil.copy(SERVING / name, models / name)
    result = fake_docker(str(models))
    # Before, docker ran and TF Serving failed inside the container.
    assert result.returncode == 2
    assert result.stdout == ""  # docker was not run
    assert f"{models}/{missing}: no such file" in result.stderr


def test_docker_run_without_a_models_dir_is_a_usage_error(fake_docker):
    result = fake_docker()
    assert result.returncode != 0
    assert result.stdout == ""
    assert "usage:" in result.stderr


# --- pyproject.toml: what the wheel holds ----------------------------------------------------


def _pyproject():
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)


def test_every_file_of_the_package_is_a_module_or_matches_the_package_data_globs():
    # setuptools puts in the wheel the modules of the packages it finds (every directory
    # under keras_seq/: `namespaces` is on by default in pyproject.toml) and, in each, only
    # the other files that match [tool.setuptools.package-data]: a data file of another
    # kind (a new corpus format, a vocabulary) would be missing from a non-editable install
    # while every test of the checkout passes (tried: a vocab.bpe beside the corpora was not
    # in the wheel built from it).
    config = _pyproject()["tool"]["setuptools"]
    globs = config["package-data"]["*"]
    assert config["packages"]["find"]["include"] == ["keras_seq*"]
    left_out = []
    for directory, subdirectories, files in os.walk(PACKAGE):
        subdirectories[:] = [name for name in subdirectories if name != "__pycache__"]
        path = Path(directory)
        for name in files:
            if name.endswith((".py", ".pyc")) or name.startswith("."):
                continue
            if not any(fnmatch.fnmatch(name, pattern) for pattern in globs):
                left_out.append(str((path / name).relative_to(ROOT)))
    assert left_out == []


def test_the_bundled_corpora_are_package_data():
    # Every corpus the loaders read, with its licence and provenance, under the package.
    data = PACKAGE / "datasets" / "data"
    corpora = sorted(path.name for path in data.iterdir() if (path / "__init__.py").is_file())
    assert corpora == ["bible", "brown", "ding", "moby_dick", "spam_assassin"]
    for corpus in corpora:
        names = {path.name for path in (data / corpus).iterdir()}
        assert {"LICENSE", "NOTICE", "PROVENANCE.md"} <= names, corpus
        assert {"train", "dev", "test"} <= {name.split(".")[0] for name in names}, corpus


def test_the_console_script_names_the_cli_main():
    scripts = _pyproject()["project"]["scripts"]
    assert scripts == {"keras-seq": "keras_seq.cli:main"}
    from keras_seq import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
