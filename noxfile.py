"""Development sessions: ``nox -s tests`` (the default), ``plugin``, ``lint``, ``bench``, ``demo``.

* ``tests``  -- the core and every plugin installed editable in one environment; checks that every
  plugin loads (``patter-core list-plugins --strict``) and runs the whole test suite.
* ``plugin`` -- each plugin alone with the core (catches undeclared dependencies).
* ``lint``   -- ruff and mypy.
* ``bench``  -- the benchmarks in ``bench/`` (figures go to docs/benchmarks.md by hand).
* ``demo``   -- the offline simulated phone call.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").glob("*") if (p / "pyproject.toml").exists())

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


def _editable(*paths: str) -> list[str]:
    args: list[str] = []
    for path in paths:
        args += ["-e", path]
    return args


@nox.session
def tests(session: nox.Session) -> None:
    """Core + all plugins in one environment; the full suite."""
    session.install(*_editable(".[test]", *(f"plugins/{p}" for p in PLUGINS)))
    session.run("patter-core", "list-plugins", "--strict")
    session.run("pytest", "-q", *session.posargs)


@nox.session
@nox.parametrize("plugin", PLUGINS)
def plugin(session: nox.Session, plugin: str) -> None:
    """One plugin alone with the core."""
    session.install(*_editable(".[test]", f"plugins/{plugin}"))
    session.run("patter-core", "list-plugins", "--strict")
    session.run("pytest", "-q", f"plugins/{plugin}", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff", "mypy", *_editable(".[test]", *(f"plugins/{p}" for p in PLUGINS)))
    session.run("ruff", "check", "patter_core", "plugins", "tests", "bench")
    session.run("mypy", "patter_core")


@nox.session
def demo(session: nox.Session) -> None:
    """A complete simulated phone call, offline (``nox -s demo -- --carrier telnyx`` to switch)."""
    session.install(*_editable(".", "plugins/patter-local", "plugins/patter-twilio", "plugins/patter-telnyx"))
    session.run("patter-core", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    session.install(*_editable(".[test]", *(f"plugins/{p}" for p in PLUGINS)))
    for script in sorted((ROOT / "bench").glob("*.py")):
        if not script.name.startswith("_"):
            session.run("python", str(script), *session.posargs)
