"""Bounded waits on providers: a provider that stops answering must never hang a call.

Providers bound their own network reads where they can (connect timeouts, keep-alive pings), but a
service can keep its socket healthy and simply stop sending. The session therefore bounds every wait
for something it is owed -- a connection, the next piece of a reply, the next chunk of speech -- and
turns a silence longer than the limit into :class:`ProviderStalled`, which it handles like any other
provider failure (see ``CallSession.run`` and ``PipelineMode``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable
from typing import TypeVar

from patter_core.errors import ProviderError

__all__ = ["ProviderStalled", "bounded"]

T = TypeVar("T")


class ProviderStalled(ProviderError):
    """A provider sent nothing for longer than the session's ``stall_timeout_s``."""

    def __init__(self, what: str, timeout: float) -> None:
        super().__init__(f"{what} sent nothing for {timeout:g} s", code="stalled")
        self.timeout = timeout


async def bounded(stream: AsyncIterable[T], timeout: float | None, what: str) -> AsyncGenerator[T, None]:
    """Iterate ``stream``, raising :class:`ProviderStalled` when one item takes longer than ``timeout``.

    The caller keeps ownership of ``stream`` (it closes it, as before); ``None`` disables the bound.
    """
    iterator = aiter(stream)
    while True:
        try:
            async with asyncio.timeout(timeout):
                item = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise ProviderStalled(what, timeout or 0.0) from None
        yield item
