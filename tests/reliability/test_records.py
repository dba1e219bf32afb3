"""Nothing lost: the JSONL call record (and the WAV recording) are complete and valid after any end.

Ends covered: a normal hang-up, an abrupt cancellation (the server task is cancelled), a provider
failure, the process killed outright (SIGKILL: everything written before the kill is there, each line
whole), and a recording interrupted the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

from patter_core.agent import Agent
from patter_core.audio import MULAW_8K
from patter_core.interfaces.carrier import CallInfo
from patter_core.session.call import APOLOGY, SessionOptions
from patter_core.session.record import CallRecord
from patter_core.session.record_sink import JsonlRecordSink, read_records, record_path
from patter_core.testing import FakeCarrier, FakeChannel, FakeEngine, start_call, voice


def kinds(entries: list[dict]) -> list[str]:
    return [e["kind"] for e in entries]


def check_sequence(entries: list[dict]) -> None:
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0]["kind"] == "start" and entries[0]["data"]["call"]["call_id"]


def test_each_entry_is_on_disk_as_soon_as_it_is_added(tmp_path: Path) -> None:
    call = CallInfo(call_id="CA/../1", carrier="fake", caller="+15550001111")
    sink = JsonlRecordSink(tmp_path, call, mode="engine")
    record = CallRecord(call=call, mode="engine", sink=sink)
    record.add_event("call_started")
    path = record_path(tmp_path, "CA/../1")
    assert path.parent == tmp_path  # the call id cannot escape the directory
    assert kinds(read_records(path)) == ["start", "event"]  # flushed: readable while the file is open
    record.add_transcript("caller", "Hi \u00e9\ud800 there")  # a lone surrogate from a peer's JSON
    record.finish("caller hung up")
    entries = read_records(path)
    check_sequence(entries)
    assert kinds(entries) == ["start", "event", "transcript", "end"]
    assert entries[-1]["data"]["reason"] == "caller hung up"
    record.add_event("late")  # after the end: ignored, the file is closed
    assert kinds(read_records(path)) == ["start", "event", "transcript", "end"]


def test_a_line_cut_short_by_a_crash_is_skipped_when_reading(tmp_path: Path) -> None:
    path = tmp_path / "CA1.jsonl"
    path.write_text('{"kind":"start","seq":1}\n{"kind":"event","seq":2}\n{"kind":"ev')
    assert kinds(read_records(path)) == ["start", "event"]


def test_a_write_failure_disables_the_sink_without_ending_the_call(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the records directory should be")
    call = CallInfo(call_id="CA1", carrier="fake")
    record = CallRecord(call=call, mode="engine", sink=JsonlRecordSink(blocked, call))
    record.add_event("call_started")  # logged, not raised
    record.finish("caller hung up")
    assert record.end_reason == "caller hung up"


async def test_records_of_a_normal_call(tmp_path: Path, no_leaks) -> None:
    engine = FakeEngine()
    channel = FakeChannel()
    options = SessionOptions(records_dir=str(tmp_path), recording_path=str(tmp_path / "CAfake.wav"))
    call = start_call(
        Agent(system_prompt="x", engine=engine, first_message="Hello there."), channel, options=options
    )
    await channel.wait_for(lambda: channel.played_ms >= 400)
    await channel.speak(voice(300, MULAW_8K))
    engine.session.caller_says("What time is it?")
    channel.press("5")
    await channel.wait_for(lambda: "dtmf" in kinds_of(call.session.record))
    channel.hang_up()
    record = await call.finish()
    entries = read_records(record_path(tmp_path, "CAfake"))
    check_sequence(entries)
    assert kinds(entries)[-1] == "end" and entries[-1]["data"]["reason"] == "caller hung up"
    # the file holds exactly what the in-memory record holds
    assert [e["data"]["text"] for e in entries if e["kind"] == "transcript"] == [
        t.text for t in record.transcript
    ]
    assert [e["data"]["type"] for e in entries if e["kind"] == "event"] == [e.type for e in record.events]
    with wave.open(str(tmp_path / "CAfake.wav")) as wav:
        assert wav.getnchannels() == 2 and wav.getnframes() > 0


def kinds_of(record: CallRecord) -> list[str]:
    return [e.type for e in record.events]


async def test_records_after_an_abrupt_cancellation(tmp_path: Path, no_leaks) -> None:
    engine = FakeEngine()
    channel = FakeChannel()
    options = SessionOptions(records_dir=str(tmp_path), recording_path=str(tmp_path / "CAfake.wav"))
    call = start_call(
        Agent(system_prompt="x", engine=engine, first_message="Hello there."), channel, options=options
    )
    await channel.wait_for(lambda: channel.played_ms >= 300)
    call.task.cancel()  # what a server shutdown does to a call that does not end in time
    await asyncio.gather(call.task, return_exceptions=True)
    entries = read_records(record_path(tmp_path, "CAfake"))
    check_sequence(entries)
    assert entries[-1]["kind"] == "end" and entries[-1]["data"]["reason"] == "server shutdown"
    with wave.open(str(tmp_path / "CAfake.wav")) as wav:
        assert wav.getnframes() > 0


async def test_records_after_a_provider_failure(tmp_path: Path, no_leaks) -> None:
    engine = FakeEngine()
    carrier = FakeCarrier()
    options = SessionOptions(records_dir=str(tmp_path))
    call = start_call(
        Agent(system_prompt="x", engine=engine), FakeChannel(), carrier=carrier, options=options
    )
    await engine.connected.wait()
    engine.session.fail("socket dropped twice")
    await call.finish()
    entries = read_records(record_path(tmp_path, "CAfake"))
    check_sequence(entries)
    errors = [e["data"] for e in entries if e["kind"] == "event" and e["data"]["type"] == "error"]
    assert errors and errors[-1]["data"]["fatal"] is True
    assert entries[-1]["kind"] == "end" and entries[-1]["data"]["reason"].startswith("provider failure")
    assert carrier.hangups == [("CAfake", APOLOGY)]


CRASHING_CALL = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from patter_core.agent import Agent
    from patter_core.session.call import SessionOptions
    from patter_core.audio import MULAW_8K
    from patter_core.testing import FakeChannel, FakeEngine, silence, start_call

    async def main():
        engine, channel = FakeEngine(), FakeChannel()
        options = SessionOptions(records_dir=sys.argv[1], recording_path=os.path.join(sys.argv[1], "CAfake.wav"))
        start_call(Agent(system_prompt="x", engine=engine, first_message="Hello there, this is Acme."),
                   channel, options=options)
        await channel.speak(silence(600, MULAW_8K), realtime=True)  # the line carries the caller too
        await channel.wait_for(lambda: channel.played_ms >= 600)
        engine.session.caller_says("I need help")
        await asyncio.sleep(0.05)
        print("ready", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind

    asyncio.run(main())
    """
)


def test_records_and_recording_survive_sigkill(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(CRASHING_CALL)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    entries = read_records(record_path(tmp_path, "CAfake"))
    check_sequence(entries)
    assert "end" not in kinds(entries)  # the process never got to it ...
    transcript = [e["data"]["text"] for e in entries if e["kind"] == "transcript"]
    assert "I need help" in transcript  # ... but everything before the kill is there
    for line in (tmp_path / "CAfake.jsonl").read_text().splitlines():
        json.loads(line)
    with wave.open(str(tmp_path / "CAfake.wav")) as wav:  # a valid WAV up to the last flush
        assert wav.getnchannels() == 2 and wav.getnframes() > 0
    assert os.path.getsize(tmp_path / "CAfake.wav") == 44 + wav.getnframes() * 4
