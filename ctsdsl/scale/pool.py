"""Worker processes for `ctsdsl batch --jobs N`: results in input order, and a run that ends cleanly.

multiprocessing.Pool loses the task of a worker that dies (`kill -9`, the kernel's out-of-memory
killer) and then waits for it forever, and on Ctrl-C each worker prints its own traceback. Here
the main process watches every worker while it waits: a dead worker stops the run with a message
saying so; workers ignore Ctrl-C and die quietly on SIGTERM and SIGHUP, and whatever stops the main
process (a signal, an error, a consumer that stops reading) terminates them, so no worker outlives
the run.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import CtsdslError, Diagnostic

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

POLL_SECONDS = 0.2  # how often a wait for results looks for dead workers


class WorkerDiedError(CtsdslError):
    """A worker process died while deciding (killed, or out of memory): the run cannot be completed."""

    exit_code = 2


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main process so that the run cleans up as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


_STOPPING = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within this block, SIGTERM and SIGHUP raise `Interrupted` (a KeyboardInterrupt), as Ctrl-C does.

    Their default action kills the process at once, leaving its temporary files behind. Outside
    the main thread signal handlers cannot be set, and this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_interrupted) for s in _STOPPING}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class _Failure:
    """What a worker sends back when its own code raised: a bug, reported by the main process."""

    def __init__(self, exc: BaseException) -> None:
        self.text = f"{type(exc).__name__}: {exc}"


def _serve(tasks: Any, results: Any, make: Callable[..., Callable[[Any], Any]], args: tuple) -> None:
    # Ctrl-C goes to the whole process group: the main process alone handles it, and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for s in _STOPPING:  # a forked worker inherits the main process's handlers: die quietly instead
        signal.signal(s, signal.SIG_DFL)
    try:
        work = make(*args)
    except BaseException as exc:  # noqa: BLE001 - sent to the main process, which reports it
        results.put((-1, _Failure(exc)))
        return
    while (task := tasks.get()) is not None:
        number, payload = task
        try:
            result = work(payload)
        except BaseException as exc:  # noqa: BLE001 - as above
            result = _Failure(exc)
        results.put((number, result))


def _death(process: BaseProcess) -> WorkerDiedError:
    code = process.exitcode or 0
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() \
        else f"exited with status {code}"
    return WorkerDiedError(Diagnostic(
        "batch-worker-died", f"worker process {process.pid} {how}: the run is stopped and nothing was written",
        "ctsdsl batch", hint="if no one stopped it, the machine may have run out of memory: try fewer --jobs; "
        "the previous output, if any, is unchanged"))


def ordered_map(make: Callable[..., Callable[[Any], Any]], args: tuple, tasks: Iterable[Any], jobs: int
                ) -> Iterator[Any]:
    """`make(*args)(task)` for each task, in `jobs` worker processes, yielded in the order of `tasks`.

    At most 2 x jobs tasks are in flight, so memory stays flat however long `tasks` is and
    however far behind the consumer is.

    Raises:
        WorkerDiedError: A worker died; the other workers are stopped.
        RuntimeError: A worker's own code raised (a bug); its message says what.
    """
    import multiprocessing  # here: a single-process run, and `ctsdsl eval`, need none of it
    context = multiprocessing.get_context()
    todo, done = context.Queue(), context.Queue()
    workers = [context.Process(target=_serve, args=(todo, done, make, args), daemon=True) for _ in range(jobs)]
    try:
        for worker in workers:
            worker.start()
        results: dict[int, Any] = {}
        source = iter(tasks)
        sent = given = 0
        exhausted = False
        while True:
            while not exhausted and sent - given < 2 * jobs:
                task = next(source, None)
                if task is None:
                    exhausted = True
                else:
                    todo.put((sent, task))
                    sent += 1
            if given == sent:
                break
            while given not in results:
                try:
                    number, result = done.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    dead = next((w for w in workers if w.exitcode is not None), None)
                    if dead is not None:
                        raise _death(dead) from None
                    continue
                if isinstance(result, _Failure):
                    raise RuntimeError(f"in a worker process: {result.text}")
                results[number] = result
            yield results.pop(given)
            given += 1
    finally:
        _stop(workers, todo, done)


def _stop(workers: list, *queues: Any) -> None:
    """Stop every worker (idle ones wait for a task that will not come), and let the queues go
    without waiting on their pipes."""
    for worker in workers:
        if worker.is_alive() and worker.exitcode is None:
            worker.terminate()
    for worker in workers:
        if worker.pid is not None:
            worker.join(timeout=2)
            if worker.is_alive():  # pragma: no cover - SIGTERM is not ignored in a worker
                worker.kill()
                worker.join()
    for q in queues:
        q.cancel_join_thread()  # a task no worker will read must not hold up the exit
        q.close()
