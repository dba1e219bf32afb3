"""``EventCollector``: drain an engine session's events in a task and wait for some, with timeouts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from patter_core.interfaces.engine import EngineEvent, EngineSession

__all__ = ["EventCollector"]

T = TypeVar("T")


class EventCollector:
    """Iterates ``session.events()`` in a background task, keeping every event (``events``).

    ``await collector.wait_for(AgentAudio, count=3)`` returns once three arrived (``TimeoutError``
    otherwise, ``AssertionError`` if the stream ended first); ``error`` holds what ``events()`` raised.
    Create it inside a running event loop; ``await collector.close()`` when done.
    """

    def __init__(self, session: EngineSession) -> None:
        self.session = session
        self.events: list[EngineEvent] = []
        self.error: BaseException | None = None
        self.ended = asyncio.Event()
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="patter-openai-event-collector")

    async def _run(self) -> None:
        try:
            async for event in self.session.events():
                self.events.append(event)
                self._changed.set()
        except Exception as exc:
            self.error = exc
        finally:
            self.ended.set()
            self._changed.set()

    def of(self, kind: type[T]) -> list[T]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait(self, predicate: Callable[[list[EngineEvent]], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self.events):
                if self.ended.is_set():
                    raise AssertionError(f"the event stream ended ({self.error!r}) before the condition held")
                self._changed.clear()
                await self._changed.wait()

    async def wait_for(self, kind: type[T], count: int = 1, timeout: float = 5.0) -> list[T]:
        await self.wait(lambda events: sum(isinstance(e, kind) for e in events) >= count, timeout)
        return self.of(kind)

    async def wait_ended(self, timeout: float = 5.0) -> BaseException | None:
        """Wait for the stream to end; returns the exception ``events()`` raised, if any."""
        async with asyncio.timeout(timeout):
            await self.ended.wait()
        return self.error

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def __getitem__(self, index: int) -> Any:
        return self.events[index]
