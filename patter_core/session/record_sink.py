"""Call records on disk, one JSON line per entry, written the moment each entry happens.

A :class:`JsonlRecordSink` is a :data:`~patter_core.session.record.RecordSink`: the call's
:class:`~patter_core.session.record.CallRecord` hands it every transcript line, event, turn metric
and the end as they are added, and it appends each as one line to ``<directory>/<call id>.jsonl``,
flushed to the operating system before the call goes on. So whatever ends the call -- a hang-up, a
provider failure, an exception, SIGTERM, even SIGKILL of the process -- the file holds every entry
added before that moment, each line a complete JSON object (a process killed in the middle of a
``write`` can at worst leave a last line without its newline; :func:`read_records` skips it).

Line format: ``{"kind": ..., "seq": n, "t": <unix time>, "data": {...}}``; kinds are ``start``
(the call's details, written first), ``transcript``, ``event``, ``metrics`` and ``end``. The file is
closed after ``end``. A write error (disk full ...) is logged once and disables the sink: recording
must never end a call.

``fsync=True`` also forces each line to stable storage (survives power loss, costs a disk sync per
entry); the default survives any crash of the process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import attrs

from patter_core.interfaces.carrier import CallInfo

__all__ = ["JsonlRecordSink", "read_records", "record_path", "tee_sinks"]

log = logging.getLogger("patter.records")

Sink = Callable[[str, dict[str, Any]], None]


def record_path(directory: str | os.PathLike[str], call_id: str) -> Path:
    """Where the record of ``call_id`` goes (the id made safe as a file name)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", call_id)[:120].lstrip(".") or "call"
    return Path(directory) / f"{safe}.jsonl"


class JsonlRecordSink:
    """Append-only JSONL record of one call; the file is opened at the first entry."""

    def __init__(
        self, directory: str | os.PathLike[str], call: CallInfo, *, mode: str = "", fsync: bool = False
    ) -> None:
        self.path = record_path(directory, call.call_id)
        self.call = call
        self.mode = mode
        self.fsync = fsync
        self._file: IO[str] | None = None
        self._seq = 0
        self._failed = False
        self._closed = False

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        if self._failed or self._closed:
            return
        try:
            if self._file is None:
                self._open()
            self._write(kind, payload)
        except (OSError, TypeError, ValueError) as exc:
            self._failed = True
            log.error("call record %s: writing failed, the rest of this record is lost: %s", self.path, exc)
            self.close()
            return
        if kind == "end":
            self.close()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed at "end" or close()
        self._write("start", {"call": attrs.asdict(self.call), "mode": self.mode})

    def _write(self, kind: str, payload: dict[str, Any]) -> None:
        assert self._file is not None
        self._seq += 1
        entry = {"kind": kind, "seq": self._seq, "t": round(time.time(), 3), "data": payload}
        line = json.dumps(entry, default=str, ensure_ascii=False, separators=(",", ":"))
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a peer's JSON: escape it, keep the entry
            line = json.dumps(entry, default=str, ensure_ascii=True, separators=(",", ":"))
        self._file.write(line + "\n")
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file (idempotent); later entries are ignored."""
        self._closed = True
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError as exc:
                log.error("call record %s: closing failed: %s", self.path, exc)


def tee_sinks(*sinks: Sink | None) -> Sink | None:
    """One sink that feeds every given sink (``None`` entries are skipped); ``None`` if there are none."""
    active = [s for s in sinks if s is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]

    def tee(kind: str, payload: dict[str, Any]) -> None:
        for sink in active:
            sink(kind, payload)

    return tee


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The entries of a JSONL record, in order; a last line cut short by a crash is skipped.

    Raises ``ValueError`` for a corrupt line anywhere else (that is not something a crash produces).
    """
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]  # text after the last newline was never finished
    entries = []
    for number, line in enumerate(complete, 1):
        try:
            entries.append(json.loads(line))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not a JSON line: {exc}") from None
    if tail:
        log.warning("%s: ignoring an unfinished last line (the process died while writing it)", path)
    return entries
