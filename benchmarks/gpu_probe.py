"""What a GPU machine can run of keras_seq's benchmarks, and PyTorch's cuDNN references there.

Issue #7 asks for our recurrent layers to be measured on a GPU when one is at hand. The GPU
machines lent to our sessions do not come with TensorFlow, so this script does not import it:
it runs with any Python that has a CUDA build of PyTorch, and finds out what else is there.

1. **Environment**: the GPU (``nvidia-smi``); whether ``tensorflow`` imports (in a subprocess,
   so that a broken install cannot take the probe down), which CUDA it was built for and
   whether it sees the GPU; whether the CUDA 12 runtime, cuBLAS 12 and cuDNN 9 libraries that
   TensorFlow 2.21's CUDA 12.5 build opens at start can be loaded; where any copy of them lies.
2. **Matmul ceiling**: the best time of a large ``torch.matmul`` in float32 (TF32 off) and in
   TF32, as GFLOP/s, the physical limits the rows are read against.
3. **cuDNN references**: ``torch.nn.LSTM``, ``torch.nn.GRU`` and ``torch.nn.RNN`` train steps
   (forward + backward + Adam on the mean square of the output sequence, the harness of
   ``rnn_throughput.py``) at its sizes A, B and C, in float32 with TF32 off and with TF32 on
   (PyTorch's cuDNN default): median step time after warm-up, tokens/s = batch × length /
   median, GFLOP/s by ``rnn_throughput.py``'s count (matmuls only, backward = 2 × forward).
4. **keras_seq**: only when TensorFlow imports and sees the GPU, ``rnn_throughput.py`` runs
   on it in a subprocess (our layers against ``keras.layers.*``, which route to cuDNN there).

Everything measured is printed as tables and written as JSON (``--json``).

    python3 benchmarks/gpu_probe.py --json /tmp/gpu_probe.json
    python3 benchmarks/gpu_probe.py --steps 100 --sizes A B C
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SIZES = {  # name: (batch, length, input features, hidden units), as in rnn_throughput.py
    "A": (64, 50, 128, 256),
    "B": (32, 100, 256, 512),
    "C": (64, 30, 256, 512),
}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}

# What TensorFlow 2.21's CUDA build opens at start (tf.sysconfig.get_build_info(): CUDA 12.5.1,
# cuDNN 9); without them it registers no GPU.
TF_CUDA_LIBRARIES = ("libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcudnn.so.9")

TF_PROBE = """
import json, tensorflow as tf
info = tf.sysconfig.get_build_info()
print("TF_PROBE " + json.dumps({
    "version": tf.__version__,
    "cuda_version": info.get("cuda_version"),
    "cudnn_version": info.get("cudnn_version"),
    "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
}))
"""


def run(command, timeout):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"{type(error).__name__}: {error}"
    return done.returncode, (done.stdout + done.stderr).strip()


def environment():
    env = {"python": sys.version.split()[0]}
    _, env["nvidia_smi"] = run(
        ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"], 30
    )
    code, output = run([sys.executable, "-c", TF_PROBE], 300)
    found = [line for line in output.splitlines() if line.startswith("TF_PROBE ")]
    if code == 0 and found:
        env["tensorflow"] = json.loads(found[-1][len("TF_PROBE ") :])
    else:
        env["tensorflow"] = {"error": output.splitlines()[-1] if output else f"status {code}"}
    loadable = {}
    for name in TF_CUDA_LIBRARIES:  # in a subprocess: a library loaded here would be torch's
        code, output = run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({name!r})"], 60)
        loadable[name] = "loads" if code == 0 else output.splitlines()[-1]
    env["tf_cuda_libraries"] = loadable
    _, found = run(
        [
            "find",
            "/usr",
            "/opt",
            "/lib",
            "/lib64",
            "-name",
            "libcudart.so.1*",
            "-o",
            "-name",
            "libcudnn.so.*",
            "-o",
            "-name",
            "libcublas.so.1*",
        ],
        120,
    )
    env["cuda_libraries_on_disk"] = sorted(set(found.splitlines())) if found else []
    return env


def matmul_ceiling(torch, tf32, n=8192, repeats=10):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(n, n, device="cuda")
    b = torch.randn(n, n, device="cuda")
    for _ in range(3):
        torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        torch.matmul(a, b)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def train_step_time(torch, family, size, tf32, steps, warmup):
    batch, length, features, units = SIZES[size]
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    module = getattr(torch.nn, family)(features, units, batch_first=True).cuda()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    x = torch.randn(batch, length, features, device="cuda")

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = module(x)[0].square().mean()
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        loss = step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{family} at size {size}: loss {loss.item()}")
    return statistics.median(times), min(times), max(times)


def flops(family, size):
    batch, length, features, units = SIZES[size]
    return 3 * 2 * batch * length * (features + units) * GATES[family] * units


def at_least(minimum):
    """An argparse ``type``: an integer >= ``minimum``, else a usage error naming the flag (this
    script imports neither keras_seq nor TensorFlow, so not ``keras_seq.cli.bounded_number``)."""

    def integer(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return integer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--families", nargs="+", default=list(GATES), choices=list(GATES))
    parser.add_argument("--steps", type=at_least(1), default=50)
    parser.add_argument("--warmup", type=at_least(0), default=10)
    parser.add_argument("--json", help="write every figure here as JSON")
    args = parser.parse_args(argv)
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        parser.error(f"--json: no directory for {args.json!r}")
    record = {"environment": environment()}
    print(json.dumps(record["environment"], indent=1), flush=True)

    try:
        import torch
    except ImportError:
        torch = None
    if torch is None or not torch.cuda.is_available():
        print("# no CUDA build of torch with a GPU here: no references measured")
    else:
        record["torch"] = {
            "version": torch.__version__,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "device": torch.cuda.get_device_name(),
        }
        torch.manual_seed(0)
        ceilings = {mode: matmul_ceiling(torch, mode == "tf32") for mode in ("fp32", "tf32")}
        record["matmul_ceiling_gflops"] = ceilings
        print(f"# {record['torch']}")
        print(
            f"# matmul ceiling 8192³: fp32 {ceilings['fp32']:.0f} GFLOP/s, "
            f"tf32 {ceilings['tf32']:.0f} GFLOP/s",
            flush=True,
        )
        rows = []
        print("| module | size | math | median ms | tokens/s | GFLOP/s | of ceiling |")
        print("|---|---|---|---|---|---|---|")
        for family in args.families:
            for size in args.sizes:
                for mode in ("fp32", "tf32"):
                    median, low, high = train_step_time(
                        torch, family, size, mode == "tf32", args.steps, args.warmup
                    )
                    batch, length, _, _ = SIZES[size]
                    gflops = flops(family, size) / median / 1e9
                    rows.append(
                        {
                            "module": f"torch.nn.{family}",
                            "size": size,
                            "math": mode,
                            "median_s": median,
                            "min_s": low,
                            "max_s": high,
                            "tokens_per_s": batch * length / median,
                            "gflops": gflops,
                        }
                    )
                    print(
                        f"| torch.nn.{family} | {size} | {mode} | {median * 1e3:.2f} | "
                        f"{batch * length / median:,.0f} | {gflops:.0f} | "
                        f"{gflops / ceilings[mode]:.1%} |",
                        flush=True,
                    )
        record["torch_rows"] = rows

    tf_info = record["environment"]["tensorflow"]
    if tf_info.get("gpus"):
        here = os.path.dirname(os.path.abspath(__file__))
        code, output = run(
            [
                sys.executable,
                os.path.join(here, "rnn_throughput.py"),
                "--sizes",
                *args.sizes,
                "--layers",
                "LSTM",
                "GRU",
                "--steps",
                str(args.steps),
            ],
            3600,
        )
        record["rnn_throughput"] = {"status": code, "output": output}
        print(output)
    else:
        print(
            "# TensorFlow cannot use a GPU here, so keras_seq was not measured on it: "
            f"{tf_info.get('error') or 'no GPU visible to TensorFlow'}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=1)


if __name__ == "__main__":
    main()
