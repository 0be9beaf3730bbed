"""Field types and checks of the config schema, without the YAML loader.

The config dataclasses (``config``, ``webconfig``) are declared with these; ``configschema``
turns YAML into them and is imported only when a file is actually read, so a start on the
embedded default never loads a YAML parser.
"""

from __future__ import annotations

from typing import Annotated

from .redact import redact


class _DurationTag:
    pass


class _UrlTag:
    pass


Duration = Annotated[float, _DurationTag]
Url = Annotated[str, _UrlTag]


class ConfigError(Exception):
    """One or more problems with a config file, each naming key path and line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# Reusable checks for field metadata ------------------------------------------------
def positive(v: float) -> str | None:
    return None if v > 0 else f"must be greater than 0, got {v}"


def non_negative(v: float) -> str | None:
    return None if v >= 0 else f"must be 0 or more, got {v}"


def non_empty(v: str) -> str | None:
    return None if v.strip() else "must not be empty"


def label_name(v: str) -> str | None:
    """A target name: not empty, and no credential (it becomes the ``target`` label, shown everywhere)."""
    if not v.strip():
        return "must not be empty"
    if redact(v) != v:
        return "must not hold a credential (a URL password or a token parameter): it is the target label"
    return None
