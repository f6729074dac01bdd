"""What is alive at the train step's peak: one candidate of `rnn_throughput.py`'s memory probe
(same layer, size, harness), its allocations traced by TensorFlow's profiler.

With the BFC allocator on the CPU (``TF_CPU_ALLOCATOR_USE_BFC=true``, set here before
TensorFlow loads), the profiler records every allocation and deallocation with the op that
made it. This replays them in time order, finds the moment the allocator's bytes in use peak,
and prints the allocations made during the step that are still alive then, summed by op: the
tensors that make up the peak. A step's tensors allocated before the trace started (the
weights, the inputs) are not in the list.

    python benchmarks/memory_breakdown.py SimpleRNN A keras_seq
    python benchmarks/memory_breakdown.py SimpleRNN A keras.layers.SimpleRNN

The peak moves from run to run with the executor's schedule (two threads): run it a few
times. The trace does not always hold every allocation (the listed ones can add up to less
than the step's peak: the script prints both). The profiler slows the step, which can move
the peak too; `rnn_throughput.py --memory-only` gives the numbers, this script their make-up.
"""

import argparse
import collections
import glob
import os
import sys
import tempfile

os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"

import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rnn_throughput  # noqa: E402

from keras_seq.cli import bounded_number  # noqa: E402

MB = 2**20


def allocation_events(logdir):
    """``[(time_ns, kind, stats)]`` of the trace's allocator events, in time order."""
    (path,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    events = []
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                kind = plane.event_metadata[event.metadata_id].name
                if kind not in ("MemoryAllocation", "MemoryDeallocation"):
                    continue
                stats = {}
                for stat in event.stats:
                    name = plane.stat_metadata[stat.metadata_id].name
                    if stat.HasField("str_value"):
                        stats[name] = stat.str_value
                    elif stat.HasField("ref_value"):
                        stats[name] = plane.stat_metadata[stat.ref_value].name
                    elif stat.HasField("uint64_value"):
                        stats[name] = stat.uint64_value
                    else:
                        stats[name] = stat.int64_value
                events.append((line.timestamp_ns + event.offset_ps // 1000, kind, stats))
    events.sort(key=lambda e: e[0])
    return events


def alive_at_peak(events):
    """``(bytes in use at the peak, {op: bytes of its allocations alive then})``."""
    if not events:
        raise SystemExit("the trace holds no allocator events (is the BFC allocator on?)")
    peak_index = max(range(len(events)), key=lambda i: int(events[i][2].get("bytes_allocated", 0)))
    alive = {}
    for _, kind, stats in events[: peak_index + 1]:
        if kind == "MemoryAllocation":
            alive[stats.get("addr")] = stats
        else:
            alive.pop(stats.get("addr"), None)
    by_op = collections.Counter()
    for stats in alive.values():
        by_op[stats.get("tf_op") or "(unnamed)"] += int(stats.get("requested_bytes", 0))
    return int(events[peak_index][2]["bytes_allocated"]), by_op


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("row", choices=sorted(rnn_throughput.ROWS), help="layer row")
    parser.add_argument("size", choices=sorted(rnn_throughput.SIZES), help="size")
    parser.add_argument("candidate", help="keras_seq or a reference's name, e.g. keras.layers.LSTM")
    parser.add_argument("--mask", action="store_true", help="padded inputs with a mask")
    parser.add_argument(
        "--top", type=bounded_number(int, 1), default=12, help="ops to list (default 12)"
    )
    args = parser.parse_args()
    candidates = rnn_throughput.build_candidates(args.row, args.size, args.mask)
    if args.candidate not in candidates:
        parser.error(f"candidate {args.candidate!r} not in {sorted(candidates)}")
    step = candidates[args.candidate]
    step()  # trace and run once, as the memory probe does
    tf.config.experimental.reset_memory_stats("CPU:0")
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            step()
        finally:
            tf.profiler.experimental.stop()
        events = allocation_events(logdir)
    peak = tf.config.experimental.get_memory_info("CPU:0")["peak"] - before
    in_use, by_op = alive_at_peak(events)
    print(f"# {args.candidate}, {args.row} at {args.size}: step peak {peak / MB:.1f} MB above")
    print(f"# what was allocated before it; allocator in use at the peak {in_use / MB:.1f} MB;")
    listed = by_op.total() / MB
    print(f"# the step's allocations alive then (below, by op) add up to {listed:.1f} MB")
    print("| MB alive at the peak | op that allocated it |")
    print("|---|---|")
    for op, size in by_op.most_common(args.top):
        print(f"| {size / MB:.2f} | {op} |")


if __name__ == "__main__":
    main()
