"""Leak checks: nothing a call used may outlive it -- no asyncio task, socket or open file.

Peers of this SDK leak a little per call (a reader task nobody cancels, a provider socket nobody
closes, a recording file left open); over thousands of calls that is an outage. Wrap the code under
test::

    async with LeakCheck() as check:
        record = await start_call(agent, channel).finish()
    # on exit: raises Leaked when tasks, sockets or files created inside are still alive

or use the ``patter_leaks`` pytest fixture (``patter_core.testing.pytest_plugin``), which checks at
teardown. What is compared, before and after:

* **tasks** -- ``asyncio.all_tasks()`` of the running loop (the checking task excluded);
* **file descriptors** -- the entries of ``/proc/self/fd`` (Linux; elsewhere this part is skipped),
  told apart by what they point to: sockets (``socket:[...]``), files (a path), and the rest (pipes,
  event fds), which get ``other_fd_tolerance``;
* **threads** (optional, ``check_threads=True``) -- a hung synchronous tool keeps its worker thread.

Things take a moment to wind down after a call (a close handshake, a cancelled task's last step), so
the check waits until the state is clean, polling, for at most ``settle_s`` seconds, running the
garbage collector between polls; only what is still there then is a leak. This is a bound on how long
to wait, not a speed assertion: a clean run returns as soon as it is clean.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from types import TracebackType
from typing import Any

import attrs

__all__ = ["SERVER_KEEPALIVE_TIMERS", "LeakCheck", "Leaked", "Snapshot", "snapshot"]

_FD_DIR = "/proc/self/fd"


@attrs.frozen
class Snapshot:
    tasks: frozenset[asyncio.Task[Any]]
    fds: frozenset[tuple[int, str]]
    """``(fd, target)``: the same number pointing elsewhere counts as a new descriptor."""
    threads: frozenset[int]


def _fds() -> frozenset[tuple[int, str]]:
    if not os.path.isdir(_FD_DIR):
        return frozenset()
    found = set()
    for name in os.listdir(_FD_DIR):
        try:
            found.add((int(name), os.readlink(os.path.join(_FD_DIR, name))))
        except (OSError, ValueError):  # closed meanwhile (e.g. the listdir's own descriptor)
            continue
    return frozenset(found)


def snapshot() -> Snapshot:
    """The tasks of the running loop, the open descriptors and the live threads, now."""
    current = asyncio.current_task()
    tasks = frozenset(t for t in asyncio.all_tasks() if t is not current and not t.done())
    return Snapshot(tasks=tasks, fds=_fds(), threads=frozenset(t.ident or 0 for t in threading.enumerate()))


class Leaked(AssertionError):
    """Tasks, sockets or files created under a :class:`LeakCheck` were still alive after it."""


@attrs.define
class LeakReport:
    tasks: list[asyncio.Task[Any]] = attrs.field(factory=list)
    sockets: list[str] = attrs.field(factory=list)
    files: list[str] = attrs.field(factory=list)
    other_fds: list[str] = attrs.field(factory=list)
    threads: list[str] = attrs.field(factory=list)

    def problems(self, other_fd_tolerance: int) -> list[str]:
        out = []
        if self.tasks:
            out.append(f"{len(self.tasks)} task(s): " + ", ".join(_describe(t) for t in self.tasks))
        if self.sockets:
            out.append(f"{len(self.sockets)} socket(s): {', '.join(self.sockets)}")
        if self.files:
            out.append(f"{len(self.files)} open file(s): {', '.join(self.files)}")
        if len(self.other_fds) > other_fd_tolerance:
            out.append(f"{len(self.other_fds)} other descriptor(s): {', '.join(self.other_fds)}")
        if self.threads:
            out.append(f"{len(self.threads)} thread(s): {', '.join(self.threads)}")
        return out


def _where(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    return str(getattr(coro, "__qualname__", type(coro).__name__))


def _describe(task: asyncio.Task[Any]) -> str:
    return f"{task.get_name()} ({_where(task)})"


SERVER_KEEPALIVE_TIMERS = ("TCPServer._idle_timeout", "EventWrapper.wait")
"""hypercorn re-arms a keep-alive connection's idle timer (a new task) after every request: on a
connection a client keeps open (a carrier's pooled webhook client), the timer is the connection's,
not a call's. A connection left open *after its client closed it* is still caught: by its socket."""


class LeakCheck:
    """Async context manager (or :meth:`start` / :meth:`check`) comparing :func:`snapshot` before and after."""

    def __init__(
        self,
        *,
        settle_s: float = 5.0,
        other_fd_tolerance: int = 0,
        check_threads: bool = False,
        ignore_task_names: tuple[str, ...] = (),
        ignore_coroutines: tuple[str, ...] = (),
    ) -> None:
        self.settle_s = settle_s
        self.other_fd_tolerance = other_fd_tolerance
        self.check_threads = check_threads
        self.ignore_task_names = ignore_task_names
        self.ignore_coroutines = ignore_coroutines
        self.before: Snapshot | None = None
        self.report: LeakReport | None = None

    def start(self) -> LeakCheck:
        self.before = snapshot()
        return self

    async def __aenter__(self) -> LeakCheck:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:  # a failing body reports its own error; a leak report would hide it
            await self.check()

    def _diff(self) -> LeakReport:
        assert self.before is not None, "start() the check first"
        now = snapshot()
        report = LeakReport()
        report.tasks = [
            t
            for t in now.tasks - self.before.tasks
            if not any(t.get_name().startswith(prefix) for prefix in self.ignore_task_names)
            and _where(t) not in self.ignore_coroutines
        ]
        for fd, target in sorted(now.fds - self.before.fds):
            label = f"fd {fd} -> {target}"
            if target.startswith("socket:"):
                report.sockets.append(label)
            elif target.startswith("/") and not target.startswith("/dev/"):
                report.files.append(label)
            else:
                report.other_fds.append(label)
        if self.check_threads:
            alive = {t.ident: t.name for t in threading.enumerate()}
            report.threads = [alive[i] for i in now.threads - self.before.threads if i in alive]
        return report

    async def check(self) -> LeakReport:
        """Wait (at most ``settle_s``) for a clean state; raise :class:`Leaked` if it never comes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_s
        delay = 0.0
        while True:
            report = self._diff()
            problems = report.problems(self.other_fd_tolerance)
            if not problems:
                self.report = report
                return report
            if loop.time() >= deadline:
                break
            await asyncio.sleep(delay)
            delay = min(0.05, delay * 2 or 0.001)
            gc.collect()
        self.report = report
        raise Leaked("left behind after the checked code finished: " + "; ".join(problems))
