"""``kill -USR1 <pid>`` makes a service log what every asyncio task is waiting on.

A stalled asynchronous service shows nothing useful to a native profiler (one thread, parked in
the event loop's ``select``), and an operator cannot attach a debugger to a pod in production.
The stack of each task, logged as one line per task, says which await each one is parked on.
"""

from __future__ import annotations

import asyncio
import io
import logging
import signal

from aiohttp import web

log = logging.getLogger(__name__)


def dump_tasks() -> None:
    """Log every pending task with the stack it is suspended in."""
    tasks = asyncio.all_tasks()
    log.warning("asyncio task dump", extra={"tasks": len(tasks)})
    for task in tasks:
        stack = io.StringIO()
        task.print_stack(file=stack)
        log.warning("task", extra={"task": task.get_name(), "stack": stack.getvalue()})


async def _install(app: web.Application) -> None:
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)


def dump_tasks_on_sigusr1(app: web.Application) -> None:
    """Register the handler once the app's loop runs."""
    app.on_startup.append(_install)
