"""One owner for every task of a call, so that no task outlives its call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from patter_core.errors import CallEnded

__all__ = ["TaskScope"]

log = logging.getLogger("patter.session")
T = TypeVar("T")


class TaskScope:
    """Spawns and tracks tasks; :meth:`aclose` cancels and awaits all of them.

    A task that fails is logged (with its name) and does not take the others down; the call decides
    what a failure means by awaiting the tasks it cares about.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        if self._closed:
            coro.close()
            raise CallEnded(f"{self.name} has ended; cannot start {name}")
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, CallEnded):
            log.error("task %s failed: %s: %s", task.get_name(), type(exc).__name__, exc, exc_info=exc)

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._tasks)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Cancel every task and wait (bounded) for them to finish; idempotent."""
        self._closed = True
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                log.error("task %s did not stop within %.1f s of the call's end", task.get_name(), timeout)
