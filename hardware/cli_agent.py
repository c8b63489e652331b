"""`ardoise agent`: the long-running device agent, and the two commands it runs in child
processes (`ardoise agent tasks`, `ardoise agent run-task NAME`, in hardware/cli_tasks.py,
loaded only when run).

This module is what systemd's `ardoise agent` loads: it imports only the small modules
(lights, button, status, the sqlite3 store, zeroconf) so the process stays small
(docs/decisions.md, "The device agent stays small").
"""

from __future__ import annotations

import logging
import signal
from typing import Any

import click

from ardoise.cli import Context, LazyGroup
from hardware.agent import InlineExecutor
from hardware.child import describe_tasks
from hardware.runtime import build_agent, without_tls
from hardware.store import SqliteStore

LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


@click.group("agent", cls=LazyGroup, invoke_without_command=True, lazy_commands={
    "tasks": "hardware.cli_tasks:tasks_command",
    "run-task": "hardware.cli_tasks:run_task_command",
})
@click.option("--once", is_flag=True,
              help="Do one turn (sample, lights, requests, due tasks) and exit.")
@click.pass_context
def agent_group(ctx: click.Context, once: bool) -> None:
    """Run the device agent: lights, button, status, and the plugged-in periodic tasks.

    Each run of a task (a sync, pack updates) is a child process: `ardoise agent run-task`.
    """
    if ctx.invoked_subcommand is not None:
        return
    obj = ctx.find_object(Context)
    assert obj is not None
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    if not once and not without_tls():
        logging.getLogger(__name__).info("ssl was loaded before the agent started")
    store = SqliteStore.from_url(obj.settings.database_url_resolved)
    try:
        # A child lists the tasks (and brings the schema up to date) before the first read.
        tasks = describe_tasks(obj.command)
        kwargs: dict[str, Any] = {"executor": InlineExecutor()} if once else {}
        agent = build_agent(obj.settings, store, tasks=tasks,
                            announce=False if once else None, **kwargs)
        if once:
            agent.start()
            try:
                agent.step()
            finally:
                agent.close()
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: agent.stop())
        agent.run_forever()
    finally:
        store.close()


__all__ = ["agent_group"]
