"""Process-level tuning for a server that runs many calls: the event loop and the garbage collector.

Both are process-wide decisions, so the library never makes them behind a user's back: ``patter-core
serve`` (a process of its own) applies them, and an application that runs :meth:`Patter.serve` itself
can call the same functions (see ``docs/scaling.md``).

* :func:`loop_factory` -- uvloop's event loop when it is installed (``pip install "patter-core[speed]"``)
  and not disabled with ``PATTER_UVLOOP=0``: measured in ``bench/load.py``, it lowers the server's CPU
  per call (``docs/benchmarks.md``).
* :func:`freeze_startup_objects` -- a full collection, then ``gc.freeze()``: everything alive once the
  server is set up (modules, classes, the agent, the providers) moves out of the collector's sight, so
  the periodic full collections -- which pause every call at once -- scan only the calls' own objects.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Callable

__all__ = ["freeze_startup_objects", "loop_factory"]

log = logging.getLogger("patter.server")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop to serve on: uvloop's when installed and not disabled, else ``None`` (asyncio's)."""
    if os.environ.get("PATTER_UVLOOP", "").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def freeze_startup_objects() -> int:
    """Collect once, then freeze what survives (``gc.freeze``); returns how many objects were frozen.

    Call it once, after start-up and before calls arrive. Objects frozen are never collected, so do not
    call it in a process that keeps creating and dropping servers (a test suite).
    """
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("froze %d start-up objects out of the garbage collector's full passes", frozen)
    return frozen
