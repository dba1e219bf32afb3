"""A minimal ``.env`` reader: ``KEY=value`` lines, ``export`` prefixes, quotes and comments.

Values already in the environment win (a deployment's real environment is never overridden).
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from pathlib import Path

__all__ = ["load_dotenv", "parse_dotenv"]

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def parse_dotenv(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _LINE.match(raw)
        if match is None:
            continue
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0]
        values[key] = value
    return values


def load_dotenv(path: str | Path = ".env", environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Load ``path`` into ``environ`` (default ``os.environ``) without overriding; return the keys set."""
    environ = os.environ if environ is None else environ
    file = Path(path)
    if not file.is_file():
        return []
    loaded = []
    for key, value in parse_dotenv(file.read_text(encoding="utf-8")).items():
        if key not in environ:
            environ[key] = value
            loaded.append(key)
    return loaded
