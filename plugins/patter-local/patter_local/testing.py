"""Helpers for testing with the local providers (used by this package's tests and reusable by others).

* :func:`phone_line` -- what a caller's (or agent's) audio sounds like after a telephone hop: resampled
  to 8 kHz, mu-law encoded and decoded, back to 16 kHz (the canonical rate);
* :func:`word_error_rate` -- WER with the normalisation that makes "4.30" equal "four thirty";
* signal generators for what a VAD must *not* call speech: :func:`tones`, :func:`dtmf`,
  :func:`ringback`, :func:`busy_tone`, :func:`white_noise`, :func:`brown_noise`;
* :class:`NetworkGuard` -- blocks every socket connection to a non-loopback address for the process
  (``with NetworkGuard() as guard: ...``; ``guard.blocked`` lists what was attempted), the proof that
  the embedded default never touches the network.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from patter_core.audio import resample_offline, ulaw_decode, ulaw_encode
from patter_local._parse import words

__all__ = [
    "AGENT_LINES",
    "CALLER_LINES",
    "NetworkBlockedError",
    "NetworkGuard",
    "brown_noise",
    "busy_tone",
    "dtmf",
    "is_local_address",
    "phone_line",
    "ringback",
    "tones",
    "white_noise",
    "word_error_rate",
]

PCM16 = npt.NDArray[np.int16]

#: A phone-booking conversation, caller side and agent side: the STT accuracy set.
CALLER_LINES = [
    "Hi, I'd like to book an appointment please.",
    "Do you have anything available on Tuesday?",
    "Three in the afternoon would be great.",
    "My name is John Smith.",
    "What are your opening hours on Saturday?",
    "Can I speak to a human please?",
    "Actually, make that tomorrow at ten in the morning.",
    "That's all, thank you very much. Goodbye.",
    "Could you move my booking to Friday at four thirty?",
    "I need to cancel my dentist appointment next week.",
]
AGENT_LINES = [
    "Hello! How can I help you today?",
    "I'd be happy to book an appointment for you. What day and time would you like?",
    "What time on Tuesday works for you?",
    "Let me book Tuesday at 3 PM for you.",
    "You're booked for Tuesday at 3 PM. Is there anything else I can help you with?",
    "We're open Monday to Friday from 9 AM to 5 PM.",
    "Of course. Let me transfer you to a member of our team.",
    "Thank you for calling. Goodbye!",
]


def phone_line(pcm: PCM16, sample_rate: int, *, out_rate: int = 16000) -> PCM16:
    """``pcm`` after a G.711 mu-law 8 kHz telephone hop, at ``out_rate`` (default 16 kHz)."""
    narrow = resample_offline(np.asarray(pcm, dtype=np.int16), sample_rate, 8000)
    decoded = ulaw_decode(ulaw_encode(narrow))
    return resample_offline(decoded, 8000, out_rate) if out_rate != 8000 else decoded


def word_error_rate(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word errors, reference words) after normalising case, punctuation and numbers."""
    ref = [w for w in words(reference) if w != "th"]
    hyp = [w for w in words(hypothesis) if w != "th"]
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1], len(ref)


def _seconds(sample_rate: int, seconds: float) -> npt.NDArray[np.float64]:
    return np.arange(int(sample_rate * seconds)) / sample_rate


def tones(freqs: tuple[float, ...], seconds: float, sample_rate: int = 16000, *, level: float = 0.3) -> PCM16:
    """A steady mix of sine tones at ``level`` of full scale."""
    t = _seconds(sample_rate, seconds)
    wave = sum(np.sin(2 * np.pi * f * t) for f in freqs) / max(1, len(freqs))
    return (np.asarray(wave) * level * 32767).astype(np.int16)


def _cadence(on: PCM16, off_samples: int, repeats: int) -> PCM16:
    return np.concatenate([np.concatenate((on, np.zeros(off_samples, np.int16))) for _ in range(repeats)])


_DTMF = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209), "5": (770, 1336),
    "6": (770, 1477), "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "*": (941, 1209),
    "0": (941, 1336), "#": (941, 1477),
}  # fmt: skip


def dtmf(digits: str, sample_rate: int = 16000, *, tone_s: float = 0.1, gap_s: float = 0.1) -> PCM16:
    """Key presses: each digit's dual tone for ``tone_s``, then ``gap_s`` of silence."""
    gap = int(sample_rate * gap_s)
    return np.concatenate([_cadence(tones(_DTMF[d], tone_s, sample_rate), gap, 1) for d in digits])


def ringback(seconds: float = 6.0, sample_rate: int = 16000) -> PCM16:
    """North-American ringback: 440+480 Hz, 2 s on, 4 s off."""
    return _cadence(tones((440, 480), 2.0, sample_rate), 4 * sample_rate, max(1, round(seconds / 6)))


def busy_tone(seconds: float = 4.0, sample_rate: int = 16000) -> PCM16:
    """North-American busy signal: 480+620 Hz, 0.5 s on, 0.5 s off."""
    return _cadence(tones((480, 620), 0.5, sample_rate), sample_rate // 2, max(1, round(seconds)))


def white_noise(seconds: float, sample_rate: int = 16000, *, level: float = 0.1, seed: int = 0) -> PCM16:
    noise = np.random.default_rng(seed).normal(0.0, level * 32767, int(sample_rate * seconds))
    return np.clip(noise, -32768, 32767).astype(np.int16)


def brown_noise(seconds: float, sample_rate: int = 16000, *, level: float = 0.3, seed: int = 0) -> PCM16:
    walk = np.cumsum(np.random.default_rng(seed).normal(0.0, 1.0, int(sample_rate * seconds)))
    walk -= np.linspace(walk[0], walk[-1], walk.size)
    scaled: PCM16 = (walk / (np.max(np.abs(walk)) + 1e-9) * level * 32767).astype(np.int16)
    return scaled


# -- network guard ----------------------------------------------------------------------------------


class NetworkBlockedError(ConnectionRefusedError):
    """A connection to a non-loopback address was attempted while a :class:`NetworkGuard` was active."""


def is_local_address(address: Any) -> bool:
    """Whether a socket address is loopback (127.0.0.0/8, ::1, ``localhost``) or a Unix socket path."""
    if isinstance(address, (str, bytes)):
        return True  # AF_UNIX path
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


class NetworkGuard:
    """Refuse socket connections (and name look-ups) to anything but loopback while active."""

    def __init__(self) -> None:
        self.blocked: list[str] = []
        self._lock = threading.Lock()
        self._saved: dict[str, Any] = {}

    def _refuse(self, what: str) -> NetworkBlockedError:
        with self._lock:
            self.blocked.append(what)
        return NetworkBlockedError(f"network access blocked by patter_local.testing.NetworkGuard: {what}")

    def __enter__(self) -> NetworkGuard:
        guard = self
        connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
        getaddrinfo = socket.getaddrinfo
        self._saved = {"connect": connect, "connect_ex": connect_ex, "getaddrinfo": getaddrinfo}

        def guarded_connect(sock: socket.socket, address: Any) -> None:
            if sock.family != socket.AF_UNIX and not is_local_address(address):
                raise guard._refuse(f"connect to {address!r}")
            connect(sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
            if sock.family != socket.AF_UNIX and not is_local_address(address):
                raise guard._refuse(f"connect_ex to {address!r}")
            return connect_ex(sock, address)

        def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None and not is_local_address((host, 0)):
                raise guard._refuse(f"name lookup of {host!r}")
            return getaddrinfo(host, *args, **kwargs)

        socket.socket.connect = guarded_connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
        socket.getaddrinfo = guarded_getaddrinfo
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        socket.socket.connect = self._saved["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = self._saved["connect_ex"]  # type: ignore[method-assign]
        socket.getaddrinfo = self._saved["getaddrinfo"]

    @property
    def active(self) -> bool:
        return socket.socket.connect is not self._saved.get("connect", socket.socket.connect)
