"""``patter-core doctor`` against a fake environment: throw-away plugins installed through the real
entry-point machinery, a temporary ``.env``, a running Patter server (and a server that is not Patter)
on loopback ports, a fake ``cloudflared`` on PATH, and a fake carrier whose credential check succeeds,
is refused, cannot reach the network, or never answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from patter_core.doctor import DoctorOptions, Finding, Status, diagnose, exit_code, render_text

CARRIER_PLUGIN = """
import asyncio, os

import httpx

from patter_core import hookimpl
from patter_core.errors import CarrierError, MissingCredentialError
from patter_core.testing import FakeCarrier, FakeSTT


class DoctorCarrier(FakeCarrier):
    def __init__(self, *, token=None, base_url=None):
        token = token or os.environ.get("DOCTORFAKE_TOKEN")
        if not token:
            raise MissingCredentialError("doctorfake token", argument="token", env="DOCTORFAKE_TOKEN")
        super().__init__()
        self.base_url = base_url or os.environ.get("DOCTORFAKE_BASE_URL", "http://127.0.0.1:1")

    async def check_credentials(self):
        mode = os.environ.get("DOCTORFAKE_MODE", "ok")
        if mode == "ok":
            return "account AC123 (active)"
        if mode == "reject":
            raise CarrierError("authenticate: invalid username or password", status=401)
        if mode == "raw-network":
            async with httpx.AsyncClient() as client:
                await client.get(os.environ["DOCTORFAKE_CLOSED_URL"])
        if mode == "network":
            try:
                async with httpx.AsyncClient() as client:
                    await client.get(os.environ["DOCTORFAKE_CLOSED_URL"])
            except httpx.HTTPError as exc:
                raise CarrierError(f"request failed: {exc}") from exc
        if mode == "hang":
            await asyncio.sleep(3600)
        raise NotImplementedError("no credential check")


class DoctorSTT(FakeSTT):
    def __init__(self, *, api_key=None):
        if not (api_key or os.environ.get("DOCTORSTT_API_KEY")):
            raise MissingCredentialError("doctorstt API key", argument="api_key", env="DOCTORSTT_API_KEY")
        super().__init__()


@hookimpl
def register_carriers(register):
    register(DoctorCarrier, name="doctorfake", env=["DOCTORFAKE_TOKEN", "DOCTORFAKE_DIALOUT_ID"])


@hookimpl
def register_stt(register):
    register(DoctorSTT, name="doctorstt", env=["DOCTORSTT_API_KEY"])
"""

BROKEN_PLUGIN = """
raise ImportError("No module named 'acme_sdk'")
"""

APP = """
from patter_core.testing import FakeEngine, FakeTTS


def engine_agent(phone):
    return phone.agent(system_prompt="hi", engine=FakeEngine(), first_message="Hello.")


def keyed_agent(phone):
    return phone.agent(stt="doctorstt", llm=None, tts=FakeTTS(), on_message=lambda turn: "ok")
"""

FAKE_CLOUDFLARED = """#!/usr/bin/env python3
print("cloudflared version 2026.1.0 (built 2026-01-01)")
"""


def by_check(findings: list[Finding], check: str) -> Finding:
    matches = [f for f in findings if f.check == check]
    assert matches, f"no finding {check!r} in:\n{render_text(findings)}"
    return matches[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def doctor_env(plugin_site, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Only the throw-away carrier plugin loads (the broken one where a test asks for it); no Patter
    or vendor variable leaks in from the host."""
    plugin_site.add("patter-doctorfake", "patter_doctorfake_hooks", CARRIER_PLUGIN)
    plugin_site.add("patter-broken", "patter_broken_hooks", BROKEN_PLUGIN)
    (plugin_site.root / "doctor_app.py").write_text(APP)
    monkeypatch.setenv("PATTER_PLUGINS", "patter-doctorfake")
    for name in list(os.environ):
        if name.startswith(("PATTER_WEBHOOK", "PATTER_SECRET", "PATTER_CARRIER", "PATTER_PHONE", "DOCTOR")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATTER_CLOUDFLARED", "patter-no-such-cloudflared")
    monkeypatch.setenv("DOCTORFAKE_CLOSED_URL", f"http://127.0.0.1:{free_port()}/")
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def write_env(path: Path, text: str, *, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@contextlib.asynccontextmanager
async def patter_server() -> AsyncIterator[int]:
    """A real Patter server (no carrier) on a loopback port: the target of /health checks."""
    from patter_core.phone import Patter
    from patter_core.registry import Registry
    from patter_core.testing import FakeEngine

    phone = Patter(registry=Registry.build(env={"PATTER_DISABLE_PLUGIN_AUTOLOAD": "1"}))
    task = asyncio.create_task(phone.serve(phone.agent(engine=FakeEngine()), host="127.0.0.1", port=0))
    await phone.wait_ready()
    try:
        assert phone.port is not None
        yield phone.port
    finally:
        await phone.stop()
        await asyncio.wait_for(task, 20)


@contextlib.asynccontextmanager
async def other_server() -> AsyncIterator[int]:
    """Something that is not Patter answering HTTP (a default web server page)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n"
                b"Connection: close\r\n\r\n<h1>hello</h1>"[:-1]
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_a_healthy_setup_passes_and_leaves_the_environment_as_it_was(doctor_env: Path) -> None:
    env_file = write_env(
        doctor_env / ".env",
        "DOCTORFAKE_TOKEN=tok-123\nDOCTORFAKE_DIALOUT_ID=d1\n"
        "PATTER_SECRET='" + "s" * 32 + "'\n"
        "export PATTER_PHONE_NUMBER=+15550001111\n",
    )
    async with patter_server() as port:
        findings = await diagnose(
            DoctorOptions(
                webhook_url=f"http://127.0.0.1:{port}/",
                port=free_port(),
                host="127.0.0.1",
                env_file=str(env_file),
                health_scheme="http",
            )
        )
    report = render_text(findings)
    assert exit_code(findings) == 0, report
    assert (
        by_check(findings, ".env").status is Status.OK
        and "4 variable(s)" in by_check(findings, ".env").summary
    )
    assert by_check(findings, "carrier doctorfake").status is Status.OK
    assert "DOCTORFAKE_TOKEN, DOCTORFAKE_DIALOUT_ID set" in by_check(findings, "carrier doctorfake").summary
    credentials = by_check(findings, "credentials doctorfake")
    assert credentials.status is Status.OK and "account AC123" in credentials.summary
    assert by_check(findings, "webhook /health").status is Status.OK
    assert "reaches a Patter server (ok, 0 active call(s))" in by_check(findings, "webhook /health").summary
    assert by_check(findings, "webhook DNS").status is Status.WARN  # 127.0.0.1: carriers cannot reach it
    assert by_check(findings, "port").status is Status.OK
    assert by_check(findings, "PATTER_SECRET").status is Status.OK
    assert by_check(findings, "PATTER_PHONE_NUMBER").summary == "+15550001111"
    key = by_check(findings, "key DOCTORSTT_API_KEY")  # installed, not configured: a warning only
    assert key.status is Status.WARN and "stt doctorstt" in key.summary
    assert "tok-123" not in report and "s" * 32 not in report  # values are never printed
    assert "DOCTORFAKE_TOKEN" not in os.environ and "PATTER_SECRET" not in os.environ


async def test_a_broken_setup_fails_with_a_fix_for_each_line(
    doctor_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATTER_PLUGINS", "patter-doctorfake,patter-broken")
    env_file = write_env(
        doctor_env / ".env",
        "PATTER_SECRET=short\nPATTER_PHONE_NUMBER=5550001111\nthis line is not an assignment\n",
        mode=0o644,
    )
    async with other_server() as port:
        findings = await diagnose(
            DoctorOptions(
                webhook_url=f"127.0.0.1:{port}",
                port=port,
                host="127.0.0.1",
                env_file=str(env_file),
                health_scheme="http",
            )
        )
    assert exit_code(findings) == 1
    broken = by_check(findings, "plugin patter-broken")
    assert broken.status is Status.FAIL and "No module named 'acme_sdk'" in broken.summary
    assert "PATTER_BLOCK_PLUGINS=patter-broken" in (broken.fix or "")
    carrier = by_check(findings, "carrier doctorfake")
    assert carrier.status is Status.FAIL and "DOCTORFAKE_TOKEN is not set" in carrier.summary
    assert not [f for f in findings if f.check.startswith("credentials")]  # no carrier, nothing to ask
    assert by_check(findings, "PATTER_SECRET").status is Status.FAIL
    assert by_check(findings, "PATTER_PHONE_NUMBER").status is Status.FAIL
    env_warnings = [f.summary for f in findings if f.check == ".env" and f.status is Status.WARN]
    assert any("line(s) 3" in w for w in env_warnings) and any(
        "readable by other users" in w for w in env_warnings
    )
    health = by_check(findings, "webhook /health")
    assert health.status is Status.FAIL and "not from a Patter server" in health.summary
    port_finding = by_check(findings, "port")
    assert port_finding.status is Status.FAIL and "in use by another program" in port_finding.summary
    report = render_text(findings)
    assert "fix: chmod 600" in report and "failed;" in report.splitlines()[-1]


async def test_refused_credentials_fail(doctor_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCTORFAKE_TOKEN", "tok")
    monkeypatch.setenv("DOCTORFAKE_MODE", "reject")
    findings = await diagnose(
        DoctorOptions(
            webhook_url="agent.patter.test",
            port=free_port(),
            offline=False,
            env_file=str(doctor_env / "none.env"),
        )
    )
    credentials = by_check(findings, "credentials doctorfake")
    assert credentials.status is Status.FAIL and "HTTP 401" in credentials.summary
    assert exit_code(findings) == 1
    carrier = by_check(findings, "carrier doctorfake")  # built without its optional key: a warning
    assert carrier.status is Status.WARN and "DOCTORFAKE_DIALOUT_ID not set" in carrier.summary


async def test_without_network_the_network_checks_say_they_could_not_check(
    doctor_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCTORFAKE_TOKEN", "tok")
    monkeypatch.setenv("DOCTORFAKE_MODE", "network")
    real = socket.getaddrinfo

    def no_dns(host, *args, **kwargs):  # the machine has no resolver: names fail, literals still work
        try:
            socket.inet_pton(socket.AF_INET, str(host))
        except OSError:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    findings = await diagnose(
        DoctorOptions(
            webhook_url="agent.patter.test", port=free_port(), env_file=str(doctor_env / "none.env")
        )
    )
    dns = by_check(findings, "webhook DNS")
    assert dns.status is Status.SKIP and dns.summary.startswith("could not check")
    assert by_check(findings, "webhook /health").status is Status.SKIP
    credentials = by_check(findings, "credentials doctorfake")
    assert (
        credentials.status is Status.SKIP and "could not check (the API did not answer" in credentials.summary
    )
    assert exit_code(findings) == 0, render_text(findings)
    monkeypatch.setenv("DOCTORFAKE_MODE", "raw-network")  # a transport error the plugin did not wrap
    findings = await diagnose(
        DoctorOptions(
            webhook_url="agent.patter.test", port=free_port(), env_file=str(doctor_env / "none.env")
        )
    )
    raw = by_check(findings, "credentials doctorfake")
    assert raw.status is Status.SKIP and "could not check (network unavailable: ConnectError" in raw.summary


async def test_a_resolver_that_knows_no_names_is_offline_not_a_missing_record(
    doctor_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCTORFAKE_TOKEN", "tok")
    monkeypatch.setenv("DOCTORFAKE_BASE_URL", "https://api.doctorfake.test")

    def nothing_resolves(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nothing_resolves)
    findings = await diagnose(
        DoctorOptions(
            webhook_url="agent.patter.test",
            port=free_port(),
            offline=False,
            env_file=str(doctor_env / "none.env"),
        )
    )
    dns = by_check(findings, "webhook DNS")
    assert dns.status is Status.SKIP and "resolves no names" in dns.summary


async def test_a_webhook_host_that_does_not_resolve_fails_when_dns_works(
    doctor_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCTORFAKE_TOKEN", "tok")
    monkeypatch.setenv("DOCTORFAKE_BASE_URL", "http://localhost:1")  # the carrier's API host resolves
    findings = await diagnose(
        DoctorOptions(
            webhook_url="patter-doctor.invalid", port=free_port(), env_file=str(doctor_env / "none.env")
        )
    )
    dns = by_check(findings, "webhook DNS")
    assert dns.status is Status.FAIL and "does not resolve" in dns.summary and "DNS record" in (dns.fix or "")


async def test_slow_and_missing_credential_checks_never_hang_the_report(
    doctor_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCTORFAKE_TOKEN", "tok")
    monkeypatch.setenv("DOCTORFAKE_MODE", "hang")
    options = DoctorOptions(
        webhook_url="agent.patter.test",
        port=free_port(),
        timeout=0.2,
        offline=True,
        env_file=str(doctor_env / "none.env"),
    )
    assert by_check(await diagnose(options), "credentials doctorfake").summary == "skipped (--offline)"
    options.offline = False
    hanging = by_check(await diagnose(options), "credentials doctorfake")
    assert hanging.status is Status.SKIP and "did not answer within 0.2 s" in hanging.summary
    monkeypatch.setenv("DOCTORFAKE_MODE", "unimplemented")
    missing = by_check(await diagnose(options), "credentials doctorfake")
    assert missing.status is Status.SKIP and "no check_credentials()" in missing.summary


async def test_a_named_agent_is_built_and_its_missing_key_named(
    doctor_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCTORFAKE_TOKEN", "tok")
    options = DoctorOptions(
        target="doctor_app:engine_agent",
        webhook_url="agent.patter.test",
        port=free_port(),
        offline=True,
        env_file=str(doctor_env / "none.env"),
    )
    findings = await diagnose(options)
    built = by_check(findings, "agent doctor_app:engine_agent")
    assert built.status is Status.OK and "engine mode (engine=FakeEngine" in built.summary
    assert not [f for f in findings if f.check.startswith("key ")]  # unused providers are not nagged about
    options.target = "doctor_app:keyed_agent"
    failed = by_check(await diagnose(options), "agent doctor_app:keyed_agent")
    assert failed.status is Status.FAIL and "DOCTORSTT_API_KEY is not set" in failed.summary
    monkeypatch.setenv("DOCTORSTT_API_KEY", "k")
    findings = await diagnose(options)
    assert by_check(findings, "agent doctor_app:keyed_agent").status is Status.OK
    assert by_check(findings, "key DOCTORSTT_API_KEY").status is Status.OK


async def test_a_port_held_by_a_running_patter_server_is_fine(doctor_env: Path) -> None:
    async with patter_server() as port:
        findings = await diagnose(
            DoctorOptions(port=port, host="127.0.0.1", offline=True, env_file=str(doctor_env / "none.env"))
        )
    held = by_check(findings, "port")
    assert held.status is Status.OK and "held by a running Patter server" in held.summary


async def test_cloudflared_presence(doctor_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCTORFAKE_TOKEN", "tok")
    options = DoctorOptions(port=free_port(), offline=True, env_file=str(doctor_env / "none.env"))
    findings = await diagnose(options)
    assert by_check(findings, "webhook URL").status is Status.FAIL
    assert "cloudflared" in (by_check(findings, "webhook URL").fix or "")
    assert by_check(findings, "cloudflared").status is Status.WARN
    binary = doctor_env / "bin" / "cloudflared"
    binary.parent.mkdir()
    binary.write_text(FAKE_CLOUDFLARED)
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATTER_CLOUDFLARED", str(binary))
    findings = await diagnose(options)
    found = by_check(findings, "cloudflared")
    assert found.status is Status.OK and "cloudflared version 2026.1.0" in found.summary
    assert by_check(findings, "webhook URL").status is Status.WARN  # `serve --tunnel` can provide one


def test_the_cli_prints_json_and_exits_1_on_a_failure(
    doctor_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from patter_core.cli import main

    monkeypatch.setenv("PATTER_PLUGINS", "patter-doctorfake,patter-broken")
    write_env(doctor_env / ".env", "DOCTORFAKE_TOKEN=tok\nDOCTORFAKE_MODE=reject\n")
    code = main(
        [
            "doctor",
            "--json",
            "--webhook-url",
            "agent.patter.test",
            "--port",
            str(free_port()),
            "--timeout",
            "2",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["ok"] is False and data["counts"]["fail"] >= 2  # broken plugin, refused keys
    checks = {c["check"]: c for c in data["checks"]}
    assert checks["credentials doctorfake"]["status"] == "fail"
    assert set(checks["plugins"]) == {"check", "status", "summary", "fix"}
    monkeypatch.setenv("PATTER_BLOCK_PLUGINS", "patter-broken")
    monkeypatch.setenv("DOCTORFAKE_MODE", "ok")
    code = main(["doctor", "--offline", "--webhook-url", "agent.patter.test", "--port", str(free_port())])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("Patter doctor") and "nothing failed" in out, out
