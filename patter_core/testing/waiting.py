"""Wait for a condition in a test, bounded, without relying on cancellation.

``asyncio.wait_for(poll(), timeout)`` around a loop that itself uses ``wait_for`` can hang forever on
Python 3.11: when the inner wait completes in the same loop iteration as the outer timeout cancels it,
the cancellation is swallowed (CPython gh-86296) and the loop polls on while the outer ``wait_for``
waits for it to finish. :func:`wait_until` checks a deadline instead, so it always returns or raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["wait_until"]


async def wait_until(
    predicate: Callable[[], object],
    *,
    timeout: float = 10.0,
    changed: asyncio.Event | None = None,
    poll_s: float = 0.02,
    what: str = "condition",
) -> None:
    """Return once ``predicate()`` is true; ``TimeoutError`` after ``timeout`` seconds.

    ``changed`` (optional) is an event set whenever the watched state changes: the check then runs as
    soon as it is set instead of on the next ``poll_s`` tick.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError(f"{what} not reached within {timeout:g} s")
        if changed is None:
            await asyncio.sleep(min(poll_s, remaining))
            continue
        changed.clear()
        try:
            async with asyncio.timeout(min(poll_s, remaining)):
                await changed.wait()
        except TimeoutError:
            pass
