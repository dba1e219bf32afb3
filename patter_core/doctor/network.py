"""The checks that need the network, each bounded by a timeout: the webhook host (DNS, then
``https://<host>/health``), the port, ``cloudflared``, and the carrier's credentials.

Without a network they say "could not check" instead of failing, and nothing here can hang: DNS runs
in a daemon thread, every request and subprocess has a deadline, and :func:`network_findings` bounds
each check as a whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit

import httpx

from patter_core.doctor.findings import DoctorOptions, Finding, Status
from patter_core.errors import CarrierError, ConfigurationError

__all__ = ["network_findings"]


async def network_findings(options: DoctorOptions, carrier: Any, carrier_name: str | None) -> list[Finding]:
    """Run the network checks concurrently (the report waits for the slowest, not for their sum), each
    bounded as a whole by three of its timeouts, and return their findings in a fixed order."""
    checks: list[tuple[str, Awaitable[list[Finding]]]] = [
        ("webhook", _webhook_findings(options, carrier, carrier_name)),
        ("port", _port_findings(options)),
        ("cloudflared", _cloudflared_findings(options, carrier_name)),
    ]
    if carrier is not None:
        checks.append((f"credentials {carrier_name}", _credential_findings(options, carrier, carrier_name)))
    results = await asyncio.gather(*(_guarded(name, check, options.timeout * 3) for name, check in checks))
    return [finding for group in results for finding in group]


async def _guarded(name: str, check: Awaitable[list[Finding]], timeout: float) -> list[Finding]:
    """A check that overruns its budget or breaks becomes a finding; the report always completes."""
    try:
        return await asyncio.wait_for(check, timeout)
    except TimeoutError:
        return [Finding(name, Status.SKIP, f"could not check: no result within {timeout:g} s")]
    except Exception as exc:
        return [Finding(name, Status.FAIL, f"the check itself failed: {type(exc).__name__}: {exc}")]


def _webhook_host(options: DoctorOptions) -> str | None:
    return options.webhook_url or os.environ.get("PATTER_WEBHOOK_URL", "").strip() or None


async def _webhook_findings(options: DoctorOptions, carrier: Any, carrier_name: str | None) -> list[Finding]:
    """``carrier`` is the built carrier (``None`` when it could not be built); ``carrier_name`` says
    whether one is configured at all."""
    from patter_core.addresses import public_host
    from patter_core.tunnel import find_cloudflared

    raw = _webhook_host(options)
    if raw is None:
        if carrier_name is None:
            return [Finding("webhook URL", Status.SKIP, "not set (no carrier configured, so none is needed)")]
        if find_cloudflared() is not None:
            return [
                Finding(
                    "webhook URL",
                    Status.WARN,
                    "not set: only `patter-core serve --tunnel` will work",
                    "for production set PATTER_WEBHOOK_URL (or --webhook-url) to your public host name",
                )
            ]
        return [
            Finding(
                "webhook URL",
                Status.FAIL,
                "not set: the carrier cannot reach this server",
                "set PATTER_WEBHOOK_URL (or --webhook-url) to the public host name, e.g. "
                "agent.example.com, or install cloudflared and use `serve --tunnel`",
            )
        ]
    try:
        host = public_host(raw, what="webhook_url") if raw else ""
    except ConfigurationError as exc:
        return [Finding("webhook URL", Status.FAIL, str(exc))]
    findings = [Finding("webhook URL", Status.OK, f"{host} (webhooks at https://{host}/webhooks/...)")]
    if options.offline:
        return [
            *findings,
            Finding("webhook DNS", Status.SKIP, "skipped (--offline)"),
            Finding("webhook /health", Status.SKIP, "skipped (--offline)"),
        ]
    name = urlsplit(f"//{host}").hostname or host
    dns, resolved = await _dns_finding(name, carrier, options.timeout)
    findings.append(dns)
    if not resolved:
        return [*findings, Finding("webhook /health", Status.SKIP, "not checked (the host did not resolve)")]
    return [*findings, await _health_finding(f"{options.health_scheme}://{host}/health", options.timeout)]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified)


async def _resolve(host: str, timeout: float) -> list[str]:
    """getaddrinfo in a daemon thread: a resolver that never answers cannot hold the process at exit
    (the default executor would be joined by ``asyncio.run``)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[str]] = loop.create_future()

    def deliver(result: list[str] | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result or [])

    def work() -> None:
        try:
            infos = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
            result, error = sorted({str(i[4][0]) for i in infos}), None
        except Exception as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting any more
            loop.call_soon_threadsafe(deliver, result, error)

    threading.Thread(target=work, name="patter-doctor-dns", daemon=True).start()
    return await asyncio.wait_for(future, timeout)


async def _dns_works(carrier: Any, timeout: float) -> bool | None:
    """Whether this machine resolves names at all, judged by the carrier's own API host."""
    api = urlsplit(str(getattr(carrier, "base_url", "") or "")).hostname
    if not api:
        return None
    try:
        return bool(await _resolve(api, timeout))
    except (OSError, TimeoutError):
        return False


async def _dns_finding(name: str, carrier: Any, timeout: float) -> tuple[Finding, bool]:
    """The DNS finding, and whether the name resolved (so /health is worth asking)."""
    check = "webhook DNS"
    if _is_ip(name):
        if _public(name):
            return Finding(
                check, Status.OK, f"{name} is an IP address (carriers need a valid TLS certificate for it)"
            ), True
        return Finding(
            check,
            Status.WARN,
            f"{name} is a private address: carriers cannot reach it",
            "use a public host name (a tunnel or a proxy in front of this server)",
        ), True
    try:
        addresses = await _resolve(name, timeout)
    except TimeoutError:
        return Finding(
            check, Status.SKIP, f"could not check: no DNS answer for {name} within {timeout:g} s"
        ), False
    except socket.gaierror as exc:
        if exc.errno not in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            return Finding(check, Status.SKIP, f"could not check (DNS unavailable: {exc})"), False
        works = await _dns_works(carrier, timeout)
        if works is False:
            return Finding(
                check, Status.SKIP, f"could not check: this machine resolves no names (offline?): {exc}"
            ), False
        fix = "create the DNS record (or check the spelling of PATTER_WEBHOOK_URL)"
        if works is None:  # no carrier API host to tell "no such name" from "no DNS here"
            return Finding(
                check, Status.WARN, f"{name} does not resolve (or this machine has no DNS)", fix
            ), False
        return Finding(check, Status.FAIL, f"{name} does not resolve", fix), False
    except OSError as exc:
        return Finding(check, Status.SKIP, f"could not check (DNS unavailable: {exc})"), False
    private = [a for a in addresses if not _public(a)]
    if private:
        return Finding(
            check,
            Status.WARN,
            f"{name} resolves to a private address ({private[0]})",
            "carriers reach you over the internet: point the name at a public address",
        ), True
    return Finding(check, Status.OK, f"{name} resolves to {', '.join(addresses[:3])}"), True


def _patter_health(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("status") in ("ok", "draining") and "active_calls" in data:
        return data
    return None


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in str(exc)


async def _get_health(url: str, timeout: float) -> httpx.Response:
    local = (urlsplit(url).hostname or "") in ("127.0.0.1", "::1", "localhost")
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=not local) as client:
        return await client.get(url)


async def _health_finding(url: str, timeout: float) -> Finding:
    check = "webhook /health"
    try:
        response = await asyncio.wait_for(_get_health(url, timeout), timeout)
    except TimeoutError:
        return Finding(
            check,
            Status.WARN,
            f"no answer from {url} within {timeout:g} s",
            "start `patter-core serve` (check the tunnel/proxy in front of it), then run doctor again",
        )
    except httpx.HTTPError as exc:
        if _tls_failure(exc):
            return Finding(
                check,
                Status.FAIL,
                f"TLS failed for {url}: {exc}",
                "carriers require a valid public certificate for the webhook host",
            )
        return Finding(
            check,
            Status.WARN,
            f"no answer from {url} ({type(exc).__name__}: {exc})",
            "start `patter-core serve` (check the tunnel/proxy in front of it), then run doctor again",
        )
    health = _patter_health(response) if response.status_code == 200 else None
    if health is not None:
        status = Status.OK if health["status"] == "ok" else Status.WARN
        return Finding(
            check,
            status,
            f"{url} reaches a Patter server ({health['status']}, {health['active_calls']} active call(s))",
        )
    if response.status_code == 200:
        return Finding(
            check,
            Status.FAIL,
            f"{url} answers, but not from a Patter server",
            "route the webhook host to the port `patter-core serve` listens on",
        )
    return Finding(
        check,
        Status.FAIL,
        f"{url} answered HTTP {response.status_code}",
        "the proxy or tunnel cannot reach Patter: is `patter-core serve` running on the port it forwards to?",
    )


async def _port_findings(options: DoctorOptions) -> list[Finding]:
    from patter_core.server.runner import bind_socket

    check, where = "port", f"{options.host}:{options.port}"
    try:
        bind_socket(options.host, options.port).close()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            probe = "127.0.0.1" if options.host in ("0.0.0.0", "") else options.host
            probe = f"[{probe}]" if ":" in probe else probe
            with contextlib.suppress(Exception):
                response = await asyncio.wait_for(
                    _get_health(f"http://{probe}:{options.port}/health", options.timeout), options.timeout
                )
                health = _patter_health(response) if response.status_code == 200 else None
                if health is not None:
                    return [
                        Finding(
                            check,
                            Status.OK,
                            f"{where} is held by a running Patter server ({health['status']})",
                        )
                    ]
            return [
                Finding(
                    check,
                    Status.FAIL,
                    f"{where} is in use by another program",
                    "stop it, or serve on another port (--port or $PORT)",
                )
            ]
        if exc.errno == errno.EACCES:
            return [
                Finding(
                    check,
                    Status.FAIL,
                    f"no permission to listen on {where}",
                    "use a port >= 1024 behind a proxy (or grant CAP_NET_BIND_SERVICE)",
                )
            ]
        return [
            Finding(
                check,
                Status.FAIL,
                f"cannot listen on {where}: {exc.strerror or exc}",
                "check --host: it must be an address of this machine (0.0.0.0 for all)",
            )
        ]
    return [Finding(check, Status.OK, f"{where} is free")]


async def _cloudflared_findings(options: DoctorOptions, carrier_name: str | None) -> list[Finding]:
    from patter_core.tunnel import INSTALL_HINT, find_cloudflared

    binary = find_cloudflared()
    if binary is None:
        if _webhook_host(options) is None and carrier_name is not None:
            return [
                Finding(
                    "cloudflared",
                    Status.WARN,
                    "not on PATH: `serve --tunnel` cannot work",
                    INSTALL_HINT.split(": ", 1)[-1],
                )
            ]
        return [Finding("cloudflared", Status.SKIP, "not on PATH (only `serve --tunnel` needs it)")]
    version = ""
    with contextlib.suppress(Exception):
        process = await asyncio.create_subprocess_exec(
            binary, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), options.timeout)
            version = out.decode(errors="replace").strip().splitlines()[0][:80] if out.strip() else ""
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    return [Finding("cloudflared", Status.OK, f"{binary}" + (f" ({version})" if version else ""))]


def _network_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.TransportError | OSError | TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _credential_findings(options: DoctorOptions, carrier: Any, name: str | None) -> list[Finding]:
    check = f"credentials {name}"
    if options.offline:
        return [Finding(check, Status.SKIP, "skipped (--offline)")]
    try:
        description = await asyncio.wait_for(carrier.check_credentials(), options.timeout)
    except NotImplementedError:
        return [Finding(check, Status.SKIP, "not checked: this carrier plugin has no check_credentials()")]
    except TimeoutError:
        return [
            Finding(
                check, Status.SKIP, f"could not check: the API did not answer within {options.timeout:g} s"
            )
        ]
    except CarrierError as exc:
        if exc.status is None:  # no HTTP answer at all: the request never reached the API
            return [Finding(check, Status.SKIP, f"could not check (the API did not answer: {exc})")]
        if exc.status in (401, 403):
            return [
                Finding(
                    check,
                    Status.FAIL,
                    f"rejected by the carrier (HTTP {exc.status}): {exc}",
                    "check the carrier keys (copy them again from the carrier's console)",
                )
            ]
        return [Finding(check, Status.FAIL, f"the carrier's API refused the check: {exc}")]
    except ConfigurationError as exc:
        return [Finding(check, Status.FAIL, str(exc))]
    except Exception as exc:
        if _network_failure(exc):
            return [
                Finding(
                    check, Status.SKIP, f"could not check (network unavailable: {type(exc).__name__}: {exc})"
                )
            ]
        return [Finding(check, Status.FAIL, f"check_credentials() raised {type(exc).__name__}: {exc}")]
    return [Finding(check, Status.OK, f"accepted: {description}")]
