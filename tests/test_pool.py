"""Batch worker processes: results in order, a dead worker ends the run with a message, signals stop it cleanly."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from ctsdsl.scale import batch
from ctsdsl import cli
from ctsdsl.scale.pool import Interrupted, WorkerDiedError, ordered_map, stop_on_signals

from test_batch import good


def _squares() -> object:
    return lambda n: n * n


def _dies_on(fatal: int) -> object:
    def work(n: int) -> int:
        if n == fatal:
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would
        return n
    return work


def _raises() -> object:
    def work(n: int) -> int:
        raise RecursionError("maximum recursion depth exceeded")
    return work


def _signal_dispositions() -> object:
    return lambda _: (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP))


def test_results_come_back_in_the_order_of_the_tasks_whatever_worker_finishes_first():
    assert list(ordered_map(_squares, (), range(50), 3)) == [n * n for n in range(50)]
    assert multiprocessing.active_children() == []


def test_a_worker_killed_mid_run_ends_the_run_with_a_message_instead_of_a_wait_forever():
    # Issue 16: under multiprocessing.Pool the dead worker's task never came back and the run hung.
    with pytest.raises(WorkerDiedError) as info:
        list(ordered_map(_dies_on, (7,), range(20), 2))
    (d,) = info.value.diagnostics
    assert "was killed by SIGKILL: the run is stopped and nothing was written" in d.message
    assert info.value.exit_code == 2
    assert multiprocessing.active_children() == []  # the other worker is stopped too


def test_a_bug_in_a_worker_is_reported_by_the_main_process_without_the_workers_traceback():
    with pytest.raises(RuntimeError, match="in a worker process: RecursionError: maximum recursion depth"):
        list(ordered_map(_raises, (), range(3), 2))


def test_workers_leave_ctrl_c_to_the_main_process_and_die_quietly_on_sigterm_and_sighup():
    # Ctrl-C reaches every process of the group: each worker printed its own KeyboardInterrupt traceback.
    with stop_on_signals():  # the main process's handlers, which a forked worker inherits
        (dispositions,) = ordered_map(_signal_dispositions, (), [0], 1)
    assert dispositions == (signal.SIG_IGN, signal.SIG_DFL, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_raise_in_the_main_process_as_ctrl_c_does(signum):
    before = signal.getsignal(signum)
    with pytest.raises(Interrupted) as info, stop_on_signals():
        os.kill(os.getpid(), signum)
    assert isinstance(info.value, KeyboardInterrupt) and info.value.signum == signum
    assert signal.getsignal(signum) is before  # the handler of before the run is back


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_batch_stopped_by_a_signal_exits_128_plus_it_and_leaves_the_previous_output(capsys, tmp_path,
                                                                                      monkeypatch, jobs, signum):
    claims = tmp_path / "claims.jsonl"
    claims.write_text("\n".join(good(n) for n in range(40)) + "\n", encoding="utf-8")
    out, errors = tmp_path / "d.jsonl", tmp_path / "e.jsonl"
    out.write_text("the previous run\n", encoding="utf-8")
    real_write = batch.write_result
    written = []

    def write_then_stop(*args):  # the signal arrives once decisions are written, before the run is done
        real_write(*args)
        written.append(1)
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(batch, "write_result", write_then_stop)
    code = cli.main(["batch", str(claims), "-o", str(out), "--errors", str(errors), "--jobs", str(jobs)])
    err = capsys.readouterr().err
    assert code == 128 + signum
    assert f"stopped by {signal.Signals(signum).name}; nothing was written" in err and "Traceback" not in err
    assert out.read_text() == "the previous run\n" and not errors.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.jsonl", "d.jsonl"]  # no temporary file
    assert written and multiprocessing.active_children() == []
