"""The agent's side of a task run in a child process.

The tasks other packages plug into the agent (the sync, pack updates) need SQLAlchemy,
the sync engine and the hub's models: loaded in the long-running agent they would triple
its memory. So the agent only knows each task's schedule (`describe_tasks` asks a child
once, at start), and when a task is due `ChildTask.run` starts
`ardoise agent run-task NAME` (hardware.task_runner), which runs the task with the same
context methods. The child reports through a pipe, one JSON object a line:
`{"progress": 0.4, "label": "..."}` while it works, then `{"result": {...}, "state": ...}`.
On its stdin the child gets the agent's latest health record (sent with a sync) and the
state the task kept from its previous run (a task with `save_state()` and
`load_state(state)`, such as the sync's backoff, carries it over as it would in one long
process). The agent meanwhile keeps the lights and the button going on its own thread.

A child that crashes, is killed (even with SIGKILL) or exits without a result is a failed
run with the reason, never an agent crash. A child still running after its timeout, or
when the agent stops, gets SIGTERM (its `ctx.stopping()` turns true), then SIGKILL after
a grace period; the child leads its own process group, so an rsync it started goes too.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from ardoise.errors import ArdoiseError
from ardoise.i18n import N_

log = logging.getLogger(__name__)

DEFAULT_PACKAGES: tuple[str, ...] = ("sync", "content_packs")
DESCRIBE_TIMEOUT_SECONDS = 300.0  # the first start migrates the database
STOP_GRACE_SECONDS = 6.0  # well under the agent's own wait when stopping (10 s)
READ_SECONDS = 1.0  # how often the agent looks at a silent child (timeout, stopping)


class TaskListError(ArdoiseError, RuntimeError):
    """The child that lists the plugged-in tasks failed: the agent cannot start."""

    code = "agent_tasks"


def task_command(command: Sequence[str], *args: str) -> list[str]:
    """`ardoise agent <args>`, with the same interpreter and global options as this one."""
    return [*command, "agent", *args]


def package_args(packages: Sequence[str]) -> list[str]:
    return [arg for p in packages for arg in ("--package", p)]


def describe_tasks(command: Sequence[str], packages: Sequence[str] = DEFAULT_PACKAGES, *,
                   timeout: float = DESCRIBE_TIMEOUT_SECONDS, **child: Any) -> list[ChildTask]:
    """The plugged-in tasks and their schedules, from `ardoise agent tasks --json` run in a
    child (which also brings the database schema up to date, as every command does)."""
    argv = task_command(command, "tasks", "--json", *package_args(packages))
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TaskListError(N_("Could not list the agent's tasks (%(reason)s)."),
                            reason=str(exc)) from None
    if done.returncode != 0:
        raise TaskListError(
            N_("Could not list the agent's tasks: 'ardoise agent tasks' exited with code "
               "%(code)s. Its messages are above."), code=done.returncode)
    try:
        described = json.loads(done.stdout)
    except ValueError:
        raise TaskListError(N_("Could not list the agent's tasks (%(reason)s)."),
                            reason="not JSON") from None
    return [ChildTask(command=tuple(command), packages=tuple(packages), **{**d, **child})
            for d in described]


@dataclass
class ChildTask:
    """A plugged-in task as the agent sees it: its schedule, and how to run it."""

    name: str
    command: tuple[str, ...]  # runs `ardoise` (hardware.child.task_command)
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    interval_seconds: float = 0.0
    requests: tuple[str, ...] = ()
    activity: str | None = None
    first_delay_seconds: float = 0.0
    timeout_seconds: float = 4 * 3600.0
    stop_grace_seconds: float = STOP_GRACE_SECONDS
    clock: Callable[[], float] = time.monotonic
    state: Any = None  # what the task saved at the end of its last run, for the next

    def __post_init__(self) -> None:
        self.requests = tuple(self.requests)

    def argv(self, requested_by: Sequence[str], progress_fd: int) -> list[str]:
        return task_command(
            self.command, "run-task", self.name, "--progress-fd", str(progress_fd),
            "--agent-stdin", *package_args(self.packages),
            *[arg for source in requested_by for arg in ("--requested-by", source)])

    def run(self, ctx: Any) -> dict[str, Any] | None:
        """Run the task in a child and wait for it; what it returned, or why it failed."""
        sent = json.dumps({"health": ctx.health_record(), "state": self.state},
                          default=str).encode()
        read_fd, write_fd = os.pipe()
        try:
            proc = subprocess.Popen(self.argv(ctx.requested_by, write_fd), pass_fds=(write_fd,),
                                    stdin=subprocess.PIPE, start_new_session=True)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        try:
            _send(proc, sent)
            return self._supervise(proc, read_fd, ctx)
        finally:
            os.close(read_fd)
            if proc.poll() is None:  # only when supervising itself failed
                _signal(proc, signal.SIGKILL)
                proc.wait()

    def _supervise(self, proc: subprocess.Popen[bytes], fd: int, ctx: Any
                   ) -> dict[str, Any] | None:
        lines = _Lines()
        result: dict[str, Any] | None = None
        got_result = False
        deadline = self.clock() + self.timeout_seconds
        stopped_for = ""
        kill_at = 0.0
        eof = False
        while True:
            if not eof:
                if select.select([fd], [], [], READ_SECONDS)[0]:
                    chunk = os.read(fd, 65536)
                    eof = not chunk
                    for message in lines.feed(chunk):
                        if "result" in message:
                            result, got_result = message["result"], True
                            if message.get("state") is not None:
                                self.state = message["state"]
                        elif "progress" in message:
                            ctx.progress(_fraction(message["progress"]),
                                         str(message.get("label") or ""))
            else:
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=READ_SECONDS)
            if proc.poll() is not None and (eof or not _readable(fd)):
                break
            now = self.clock()
            if got_result and not stopped_for:
                # done, but still there (a thread that does not end): not for long
                deadline = min(deadline, now + self.stop_grace_seconds)
            if not stopped_for and (ctx.stopping() or now >= deadline):
                stopped_for = ("stopping" if ctx.stopping() else
                               "lingering" if got_result else "timeout")
                log.warning("task %s: %s, asking its process to stop", self.name, stopped_for)
                _signal(proc, signal.SIGTERM)
                kill_at = now + self.stop_grace_seconds
            elif stopped_for and now >= kill_at:
                _signal(proc, signal.SIGKILL)
                kill_at = float("inf")
        code = proc.wait()
        if stopped_for == "timeout":
            return {"ok": False, "message": f"stopped: took longer than its limit of "
                    f"{self.timeout_seconds:g} s", "timed_out": True, **_exit_details(code)}
        if got_result:
            return result if isinstance(result, dict) or result is None else {
                "ok": False, "message": f"unexpected result {result!r:.200}"}
        if stopped_for == "stopping":
            return {"ok": False, "message": "stopped with the agent before it could say how "
                    "it ended", **_exit_details(code)}
        if code < 0:
            name = _signal_name(-code)
            return {"ok": False, "message": f"the task process was killed by {name}",
                    **_exit_details(code)}
        return {"ok": False, "message": f"the task process exited with code {code} without "
                "a result (the agent's log has its messages)", **_exit_details(code)}


class _Lines:
    """JSON objects from a byte stream, one a line; anything else is logged and skipped."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        if not chunk and self._buffer:  # end of stream: a last line without newline
            complete.append(self._buffer)
            self._buffer = b""
        out = []
        for line in complete:
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict):
                out.append(message)
            else:
                log.warning("task process said something unexpected: %r", line[:200])
        return out


def _send(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except (BrokenPipeError, OSError):  # the child died at once: its exit says why
        pass


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)  # the child leads its group (start_new_session)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _exit_details(code: int) -> dict[str, Any]:
    return {"signal": _signal_name(-code)} if code < 0 else {"exit_code": code}


def _fraction(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


__all__ = ["DEFAULT_PACKAGES", "ChildTask", "TaskListError", "describe_tasks", "task_command"]
