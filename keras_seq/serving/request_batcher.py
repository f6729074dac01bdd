"""Server-side batching: concurrent requests for one signature merged into one session run."""

import asyncio
import collections
import time

import numpy as np

from keras_seq.serving.serving_error import ServingError

_Task = collections.namedtuple("_Task", ["inputs", "rows", "deadline", "future", "done"])


def batchable(inputs):
    """Whether a request can join a merged run: every input leads with the same batch
    dimension (a scalar option such as a beam size cannot be concatenated, as in TF Serving)."""
    if not inputs or any(np.ndim(value) < 1 for value in inputs.values()):
        return False
    return len({len(value) for value in inputs.values()}) == 1


def splittable(signature):
    """Whether the outputs of ``signature`` (a ``SignatureDef``) split back into each
    request's own answer: every output has a known rank, leads with the batch dimension
    (unknown size) and has static sizes after it.

    An output whose later dimensions depend on the run's inputs (``tokens`` [B, T], padded
    to the longest text of the run) would come back padded to the longest text of the merged
    requests: not what the request served alone answers.
    """
    if signature is None or not signature.outputs:
        return False
    for info in signature.outputs.values():
        shape = info.tensor_shape
        if shape.unknown_rank or not shape.dim or shape.dim[0].size != -1:
            return False
        if any(dim.size < 0 for dim in shape.dim[1:]):
            return False
    return True


class RequestBatcher:
    """Merges concurrent ``:predict`` requests into one session run per signature.

    Like TF Serving's ``--enable_batching`` with ``batch_timeout_micros: 0``: a request never
    waits for others to arrive. While all ``max_running`` runs are busy, the requests for the
    same servable, signature and input layout (names, trailing shapes, dtypes) queue; when a
    run ends, the oldest queue is concatenated along dimension 0, up to ``max_rows`` rows, into
    the next run, whose outputs are split back by rows. So batches form exactly when the
    server is loaded, and an idle server answers a lone request at once.
    The REST server submits only requests that are :func:`batchable`, for signatures that are
    :func:`splittable`, so that each request gets what it would get served alone.

    A merged run may take until the latest deadline among its requests (each request's own
    504 comes from its handler at its own deadline); a request whose deadline has passed
    before its run starts does not run. If a merged run fails, with a ``ServingError`` or any
    other exception, or an output does not lead with the batch dimension, each of its requests
    runs alone, so one bad request cannot fail the others; a request whose own run raises
    something other than a ``ServingError`` gets that exception (the server's 500). A run the
    pool cancels (``shutdown(cancel_futures=True)`` before it started) answers its requests
    503, where they waited for an answer that never came.

    Lives on the event loop (not thread-safe): ``submit`` must be called from it.

    Args:
        pool: ``concurrent.futures.Executor`` running the sessions.
        max_rows: int. Most rows per merged run (a single larger request runs alone).
        max_running: int. Runs of the batcher at once (the pool's thread count).

    Example:

    >>> batcher = RequestBatcher(pool, max_rows=64, max_running=4)  # doctest: +SKIP
    >>> outputs = await batcher.submit(servable, None, {"text": texts}, deadline)  # doctest: +SKIP
    """

    def __init__(self, pool, max_rows, max_running):
        if max_rows < 1 or max_running < 1:
            raise ValueError(
                f"need max_rows >= 1 and max_running >= 1, got {max_rows}, {max_running}"
            )
        self.pool = pool
        self.max_rows = max_rows
        self.max_running = max_running
        self.runs = 0  # session runs started (merged or alone), for monitoring and tests
        self.requests = 0  # requests answered through those runs
        self._queues = {}  # key -> deque of _Task, oldest key first
        self._running = 0

    def submit(self, servable, signature_name, inputs, deadline, done=None):
        """Queues one parsed request; returns an asyncio future of its output arrays.

        ``done``, when given, is called (maybe from a pool thread) once the request no longer
        uses ``servable``: its run ended, or it was dropped before running; its future may be
        answered (or cancelled by its client's timeout) before that.
        """
        key = (
            servable,
            signature_name,
            tuple(sorted((n, v.shape[1:], v.dtype.str) for n, v in inputs.items())),
        )
        rows = len(next(iter(inputs.values())))
        future = asyncio.get_running_loop().create_future()
        self._queues.setdefault(key, collections.deque()).append(
            _Task(inputs, rows, deadline, future, done)
        )
        self._dispatch()
        return future

    def _dispatch(self):
        while self._running < self.max_running and self._queues:
            key = next(iter(self._queues))
            queue = self._queues.pop(key)
            batch, rows = [], 0
            while queue and (not batch or rows + queue[0].rows <= self.max_rows):
                task = queue.popleft()
                if not task.future.done():  # done: its client timed out or went away
                    batch.append(task)
                    rows += task.rows
                else:
                    _ended([task])
            if queue:
                self._queues[key] = queue  # to the back: other signatures go first
            if batch:
                self._running += 1
                asyncio.get_running_loop().create_task(self._run(key[0], key[1], batch))

    async def _run(self, servable, signature_name, batch):
        try:
            try:
                job = self.pool.submit(self._run_batch, servable, signature_name, batch)
            except RuntimeError:  # the pool is shut down
                _ended(batch)
                _fail(batch, ServingError(503, "Server shutting down: the request did not run"))
                return
            # The requests' `done` once the job ended in its thread (or was cancelled), not
            # when this task stops waiting for it.
            job.add_done_callback(lambda _: _ended(batch))
            results, runs = await asyncio.wrap_future(job)
            self.runs += runs
            self.requests += len(batch)
            for task, result in zip(batch, results, strict=True):
                if task.future.done():
                    continue
                if isinstance(result, Exception):
                    task.future.set_exception(result)
                else:
                    task.future.set_result(result)
        except asyncio.CancelledError:
            # The pool cancelled the run before it started (shut down with cancel_futures),
            # or this task was cancelled: its requests waited for futures nobody would set,
            # each to its deadline.
            _fail(batch, ServingError(503, "Server shutting down: the request did not run"))
            # `Task.cancelling` is Python 3.11+; on 3.10 the cancellation always propagates.
            cancelling = getattr(asyncio.current_task(), "cancelling", None)
            if cancelling is None or cancelling():  # this task itself: let it end
                raise
        except Exception as error:  # noqa: BLE001 - hand it to every waiting request
            _fail(batch, error)
        finally:
            self._running -= 1
            self._dispatch()

    @staticmethod
    def _run_batch(servable, signature_name, batch):
        """In a pool thread: (the outputs or ServingError of each task, session runs)."""
        now = time.monotonic()
        results = [ServingError(504, "Request timed out before it ran")] * len(batch)
        live = [i for i, task in enumerate(batch) if task.deadline > now]
        runs = 0
        if len(live) > 1:
            runs += 1
            merged = _run_merged(servable, signature_name, [batch[i] for i in live], now)
            if merged is not None:
                for i, outputs in zip(live, merged, strict=True):
                    results[i] = outputs
                return results, runs
        for i in live:  # alone: a lone request, or the requests of a failed merged run
            remaining = batch[i].deadline - time.monotonic()
            if remaining <= 0:
                continue
            runs += 1
            try:
                results[i] = servable.predict(signature_name, batch[i].inputs, timeout=remaining)
            except Exception as error:  # noqa: BLE001 - this request's alone, not the others'
                results[i] = error
        return results, runs


def _ended(batch):
    for task in batch:
        if task.done is not None:
            task.done()


def _fail(batch, error):
    for task in batch:
        if not task.future.done():
            task.future.set_exception(error)


def _run_merged(servable, signature_name, tasks, now):
    """Outputs split per task, or None when the requests must run alone."""
    names = list(tasks[0].inputs)
    total = sum(task.rows for task in tasks)
    try:
        merged = {n: np.concatenate([task.inputs[n] for task in tasks]) for n in names}
        outputs = servable.predict(
            signature_name, merged, timeout=max(task.deadline for task in tasks) - now
        )
    except ServingError as error:
        if error.status_code == 504:  # every deadline has passed: running alone is later still
            return [error] * len(tasks)
        return None
    except Exception:  # noqa: BLE001 - e.g. MemoryError for the merged copy: try each alone
        return None
    if any(np.ndim(value) < 1 or len(value) != total for value in outputs.values()):
        return None
    split, start = [], 0
    for task in tasks:
        split.append({n: value[start : start + task.rows] for n, value in outputs.items()})
        start += task.rows
    return split
