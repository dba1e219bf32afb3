"""The leak check itself: it must see a task, a socket or a file left behind, and pass a clean run."""

from __future__ import annotations

import asyncio
import socket
import sys

import pytest

from patter_core.testing.leaks import LeakCheck, Leaked

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="descriptors via /proc/self/fd")


async def test_a_clean_block_passes() -> None:
    async with LeakCheck(settle_s=0.2) as check:
        task = asyncio.create_task(asyncio.sleep(0))
        await task
    assert check.report is not None and not check.report.tasks


async def test_a_task_that_finishes_shortly_after_is_waited_for() -> None:
    async with LeakCheck(settle_s=5):
        task = asyncio.create_task(asyncio.sleep(0.05), name="winding-down")
    assert task.done()


async def test_a_task_left_running_is_a_leak() -> None:
    check = LeakCheck(settle_s=0.1).start()
    task = asyncio.create_task(asyncio.Event().wait(), name="forgotten-reader")
    with pytest.raises(Leaked, match="forgotten-reader"):
        await check.check()
    task.cancel()


@linux_only
async def test_a_socket_left_open_is_a_leak() -> None:
    check = LeakCheck(settle_s=0.1).start()
    sock = socket.socket()
    with pytest.raises(Leaked, match="socket"):
        await check.check()
    sock.close()


@linux_only
async def test_a_file_left_open_is_a_leak(tmp_path) -> None:
    check = LeakCheck(settle_s=0.1).start()
    file = open(tmp_path / "recording.wav", "wb")  # noqa: SIM115
    with pytest.raises(Leaked, match=r"recording\.wav"):
        await check.check()
    file.close()
