"""`ardoise agent tasks` and `ardoise agent run-task NAME`: what the agent starts in child
processes, and what a technician may run by hand to see a task's output. Thin calls into
hardware/task_runner.py."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from typing import Any

import click

from ardoise.cli import Context, pass_ctx
from ardoise.device_protocol import REQUEST_SOURCES
from ardoise.errors import NotFound
from ardoise.i18n import N_
from hardware import task_runner
from hardware.child import DEFAULT_PACKAGES
from hardware.cli_agent import LOG_FORMAT
from hardware.status import health_record, sample_status

PACKAGE_HELP = ("A package whose agent_tasks(settings) plugs tasks in (repeatable; "
                "default: " + ", ".join(DEFAULT_PACKAGES) + ").")


def _tasks(obj: Context, packages: tuple[str, ...]) -> list[Any]:
    _ = obj.engine  # the schema up to date, and the hub's tables known to the sync engine
    return task_runner.plugin_tasks(obj.settings, packages or DEFAULT_PACKAGES)


@click.command("tasks")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--package", "packages", multiple=True, help=PACKAGE_HELP)
@pass_ctx
def tasks_command(obj: Context, as_json: bool, packages: tuple[str, ...]) -> None:
    """The tasks plugged into the agent and when each runs (the agent asks this at start)."""
    rows = [task_runner.describe(t, obj.settings) for t in _tasks(obj, packages)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        every = (f"every {row['interval_seconds'] / 60:g} min" if row["interval_seconds"]
                 else "on request only")
        asked = ", ".join(row["requests"]) or "-"
        click.echo(f"{row['name']:12} {every:22} requests: {asked:20} "
                   f"limit {row['timeout_seconds'] / 60:g} min")


@click.command("run-task")
@click.argument("name")
@click.option("--requested-by", multiple=True, type=click.Choice(REQUEST_SOURCES),
              help="Who asked for this run (repeatable); none: the schedule.")
@click.option("--package", "packages", multiple=True, help=PACKAGE_HELP)
@click.option("--progress-fd", type=int, default=None,
              help="File descriptor to report progress and the result on, as JSON lines "
                   "(the agent's pipe). Default: progress on stderr, result on stdout.")
@click.option("--agent-stdin", is_flag=True,
              help="Read what the agent sends on stdin: its latest health record (sent with "
                   "a sync; otherwise the status is sampled here) and the state the task "
                   "kept from its last run.")
@pass_ctx
def run_task_command(obj: Context, name: str, requested_by: tuple[str, ...],
                     packages: tuple[str, ...], progress_fd: int | None,
                     agent_stdin: bool) -> None:
    """Run one of the agent's tasks here and say how it ended.

    The agent runs each task this way. Exit status 1 when the task failed."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    tasks = {t.name: t for t in _tasks(obj, packages)}
    task = tasks.get(name)
    if task is None:
        raise NotFound(N_("No agent task is called %(name)s. Run 'ardoise agent tasks' to "
                          "list them."), name=name)
    sent = json.loads(sys.stdin.read() or "{}") if agent_stdin else {}
    given = sent.get("health") if isinstance(sent, dict) else None
    if isinstance(given, dict):
        health: Any = lambda: dict(given)  # noqa: E731
    else:
        health = lambda: health_record(sample_status(obj.settings, obj.session))  # noqa: E731
    task_runner.restore_state(task, sent.get("state") if isinstance(sent, dict) else None)
    stream = (os.fdopen(progress_fd, "w", encoding="utf-8") if progress_fd is not None
              else None)
    report = (task_runner.line_writer(stream) if stream is not None else _print_progress)
    ctx = task_runner.ChildContext(obj.settings, name, list(requested_by), obj.session,
                                   report, health, parent_pid=os.getppid())
    previous = signal.signal(signal.SIGTERM, lambda *_: ctx.stop())
    try:
        result = task_runner.run(task, ctx)
        if stream is not None:
            report({"result": result, "state": task_runner.saved_state(task)})
    finally:
        signal.signal(signal.SIGTERM, previous)
        if stream is not None:
            stream.close()
    click.echo(f"{name}: {'ok' if result['ok'] else 'failed'} {result['message']}".rstrip())
    if not result["ok"]:
        raise SystemExit(1)


def _print_progress(message: dict[str, Any]) -> None:
    fraction = message.get("progress")
    shown = f"{fraction:.0%}" if isinstance(fraction, (int, float)) else "..."
    click.echo(f"{shown} {message.get('label') or ''}".rstrip(), err=True)


__all__ = ["run_task_command", "tasks_command"]
