"""The checks that need no network: plugins, ``.env``, settings, the carrier, the agent, provider keys.

They run first and in order; each returns findings and never raises: a broken plugin, a bad value or
an agent that does not build is a finding, not a crash of the report.
"""

from __future__ import annotations

import inspect
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from patter_core.addresses import is_e164
from patter_core.doctor.findings import DoctorOptions, Finding, Status, is_set
from patter_core.dotenv import parse_dotenv
from patter_core.errors import ConfigurationError
from patter_core.registry import ProviderEntry, Registry

__all__ = [
    "agent_findings",
    "carrier_findings",
    "dotenv_findings",
    "key_findings",
    "plugin_findings",
    "settings_findings",
]

_ENV_LINE = re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=")


def plugin_findings(registry: Registry) -> list[Finding]:
    loaded = [p for p in registry.plugins if p.ok]
    findings = [Finding("plugins", Status.OK, f"{len(loaded)} loaded: " + ", ".join(p.name for p in loaded))]
    blocked = [p.name for p in registry.plugins if p.status == "blocked"]
    if blocked:
        findings.append(
            Finding(
                "plugins",
                Status.SKIP,
                "not loaded (PATTER_PLUGINS / PATTER_BLOCK_PLUGINS): " + ", ".join(blocked),
            )
        )
    for info in registry.plugins:
        if not info.ok and info.status != "blocked":
            findings.append(
                Finding(
                    f"plugin {info.name}",
                    Status.FAIL,
                    f"failed to load: {info.error}",
                    f"reinstall it (pip install --force-reinstall {info.name}), uninstall it, or block it "
                    f"with PATTER_BLOCK_PLUGINS={info.name}",
                )
            )
    return findings


def dotenv_findings(path: Path) -> tuple[dict[str, str], list[Finding]]:
    if not path.is_file():
        return {}, [Finding(".env", Status.SKIP, f"no {path} (optional: the environment is used as it is)")]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [
            Finding(".env", Status.FAIL, f"cannot read {path}: {exc}", "make it a readable UTF-8 file")
        ]
    values = parse_dotenv(text)
    shadowed = sorted(k for k in values if k in os.environ)
    note = f" ({len(shadowed)} already set in the environment, which wins)" if shadowed else ""
    findings = [Finding(".env", Status.OK, f"{path}: {len(values)} variable(s){note}")]
    bad = [
        str(n)
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#") and not _ENV_LINE.match(line)
    ]
    if bad:
        findings.append(
            Finding(
                ".env",
                Status.WARN,
                f"line(s) {', '.join(bad)} of {path} are not KEY=value and are ignored",
                "write one KEY=value per line (quotes and `export` are fine)",
            )
        )
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
        findings.append(
            Finding(
                ".env", Status.WARN, f"{path} is readable by other users of this machine", f"chmod 600 {path}"
            )
        )
    return values, findings


def settings_findings() -> list[Finding]:
    findings = []
    secret = os.environ.get("PATTER_SECRET", "")
    if not secret.strip():
        findings.append(
            Finding(
                "PATTER_SECRET",
                Status.WARN,
                "not set: each process makes up its own, so a media stream must reach the process "
                "that answered its webhook (fine for one process)",
                "for several workers or instances set the same PATTER_SECRET everywhere: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            )
        )
    elif len(secret.encode()) < 16:
        findings.append(
            Finding(
                "PATTER_SECRET",
                Status.FAIL,
                "shorter than 16 bytes: the server refuses to start",
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            )
        )
    else:
        findings.append(
            Finding("PATTER_SECRET", Status.OK, "set (instances that share it accept each other's calls)")
        )
    number = os.environ.get("PATTER_PHONE_NUMBER", "").strip()
    if not number:
        findings.append(
            Finding(
                "PATTER_PHONE_NUMBER",
                Status.SKIP,
                "not set (only outbound calls and --configure-number need it)",
            )
        )
    elif not is_e164(number):
        findings.append(
            Finding(
                "PATTER_PHONE_NUMBER",
                Status.FAIL,
                f"{number!r} is not E.164",
                "write it as + country code and number, e.g. +15551234567",
            )
        )
    else:
        findings.append(Finding("PATTER_PHONE_NUMBER", Status.OK, number))
    return findings


def _select_carrier(options: DoctorOptions, registry: Registry) -> tuple[str | None, Finding | None]:
    name = options.carrier or os.environ.get("PATTER_CARRIER", "").strip() or None
    if name:
        return name, None
    installed = registry.network_carriers()
    if len(installed) == 1:
        return installed[0], None
    if not installed:
        return None, Finding(
            "carrier",
            Status.WARN,
            "no carrier plugin is installed: no real calls",
            "pip install patter-twilio (or patter-telnyx); `patter-core demo` and "
            "simulated calls work without one",
        )
    return None, Finding(
        "carrier",
        Status.FAIL,
        f"several carriers are installed ({', '.join(installed)})",
        "pass --carrier or set PATTER_CARRIER",
    )


def carrier_findings(options: DoctorOptions, registry: Registry) -> tuple[str | None, Any, list[Finding]]:
    name, problem = _select_carrier(options, registry)
    if name is None:
        return None, None, [problem] if problem else []
    check = f"carrier {name}"
    try:
        entry = registry.get("carrier", name)
    except Exception as exc:
        return None, None, [Finding(check, Status.FAIL, str(exc), "install its plugin or fix PATTER_CARRIER")]
    try:
        carrier = entry.create()
        carrier.check_ready(verify_webhooks=True)
    except ConfigurationError as exc:  # its message names the missing key or setting
        return name, None, [Finding(check, Status.FAIL, str(exc))]
    except Exception as exc:
        return name, None, [Finding(check, Status.FAIL, f"cannot be created: {type(exc).__name__}: {exc}")]
    keys = [str(k) for k in entry.metadata.get("env") or []]
    missing = [k for k in keys if not is_set(k)]
    if missing:  # the carrier works without them, but something it offers needs them (e.g. dialling out)
        return (
            name,
            carrier,
            [
                Finding(
                    check,
                    Status.WARN,
                    f"created, but {', '.join(missing)} not set: features that need "
                    f"{'it' if len(missing) == 1 else 'them'} will fail ({entry.distribution})",
                    f"set {' and '.join(missing)} in the environment or in {options.env_file}",
                )
            ],
        )
    have = f"{', '.join(keys)} set; " if keys else ""
    return name, carrier, [Finding(check, Status.OK, f"{have}configuration accepted ({entry.distribution})")]


async def agent_findings(
    target: str, registry: Registry, carrier: Any
) -> tuple[list[Finding], list[ProviderEntry]]:
    from patter_core.agent import Agent
    from patter_core.phone import Patter
    from patter_core.serve_cli import load_target

    check = f"agent {target}"
    try:
        value = load_target(target)
        agent = value
        if not isinstance(value, Agent) and callable(value):
            phone = Patter(carrier=carrier, registry=registry, secret="doctor-" + "x" * 16)
            agent = value(phone) if inspect.signature(value).parameters else value()
            if inspect.isawaitable(agent):
                agent = await agent
        if not isinstance(agent, Agent):
            raise ConfigurationError(f"{target} is not an Agent or a factory returning one")
        agent.check_complete()
    except Exception as exc:
        return [Finding(check, Status.FAIL, f"does not build: {exc}")], []
    providers = {k: getattr(agent, k) for k in ("engine", "stt", "llm", "tts", "vad") if getattr(agent, k)}
    described = ", ".join(f"{k}={type(v).__name__}" for k, v in providers.items())
    used = [e for e in registry.entries() for v in providers.values() if _is_instance(v, e)]
    tools = f", {len(agent.tools)} tool(s)" if agent.tools else ""
    return [Finding(check, Status.OK, f"builds: {agent.mode} mode ({described}{tools})")], used


def _is_instance(value: object, entry: ProviderEntry) -> bool:
    return isinstance(entry.factory, type) and isinstance(value, entry.factory)


def key_findings(
    registry: Registry, used: Sequence[ProviderEntry], *, target: str | None, from_dotenv: set[str]
) -> list[Finding]:
    """One line per environment key the providers declare (the carrier's are checked above)."""
    consumers: dict[str, list[ProviderEntry]] = {}
    for entry in registry.entries():
        if entry.kind != "carrier":
            for key in entry.metadata.get("env") or []:
                consumers.setdefault(str(key), []).append(entry)
    findings = []
    for key, entries in sorted(consumers.items()):
        names = ", ".join(f"{e.kind} {e.name}" for e in entries)
        in_use = [e for e in entries if e in used]
        if is_set(key):
            source = " in .env" if key in from_dotenv else ""
            findings.append(Finding(f"key {key}", Status.OK, f"set{source} (for {names})"))
        elif in_use:
            findings.append(Finding(f"key {key}", Status.OK, f"not set, but {target} passes its key in code"))
        elif target is None:
            findings.append(
                Finding(
                    f"key {key}",
                    Status.WARN,
                    f"not set: needed if you use {names}",
                    f"set {key} in the environment or .env (or pass api_key= in code)",
                )
            )
    return findings
