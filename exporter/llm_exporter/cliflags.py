"""The command line's flags: names, checks, defaults and ``LLM_EXPORTER_*`` variables.

``Flag`` describes one flag; ``add_flags`` puts flags on an argparse parser without defaults,
so that ``flag_values`` can tell a flag given on the command line from one left out and fall
back on its environment variable (when set and not empty), then its default. Values are
checked the same way wherever they come from; a bad one is a usage error (exit 2) naming the
flag and, for a variable, its name.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import logsetup
from .httpconn import Limits


def file_path(value: str) -> str:
    if os.path.isdir(value):
        raise ValueError(f"file {value!r} is a directory")
    return value


def choice(*choices: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(map(repr, choices))}")
        return value

    return convert


def integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid integer") from None


def number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid float") from None


def int_at_least(low: int) -> Callable[[str], int]:
    def convert(value: str) -> int:
        found = integer(value)
        if found < low:
            raise ValueError(f"{value} is not in the range x>={low}")
        return found

    return convert


def float_at_least(low: float) -> Callable[[str], float]:
    def convert(value: str) -> float:
        found = number(value)
        if not found >= low:
            raise ValueError(f"{value} is not in the range x>={low}")
        return found

    return convert


_TRUE = ("1", "true", "t", "yes", "y", "on")
_FALSE = ("0", "false", "f", "no", "n", "off")


def boolean(value: str) -> bool:
    word = value.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(f"{value!r} is not a valid boolean")


class Flag:
    """One command-line flag: where its value goes, how its text is checked, default and variable."""

    __slots__ = ("convert", "default", "dest", "env", "flag", "help", "metavar", "repeat", "switch")

    def __init__(
        self,
        flag: str,
        dest: str,
        help: str,
        *,
        default: Any = None,
        env: str | None = None,
        convert: Callable[[str], Any] = str,
        switch: bool = False,
        repeat: bool = False,
        metavar: str | None = None,
    ) -> None:
        self.flag, self.dest, self.help, self.default, self.env = flag, dest, help, default, env
        self.convert, self.switch, self.repeat, self.metavar = convert, switch, repeat, metavar

    def describe(self) -> str:
        notes = [f"env {self.env}"] if self.env else []
        if self.default not in (None, False, ()):
            notes.append(f"default: {self.default}")
        return f"{self.help} [{'; '.join(notes)}]" if notes else self.help


def _env(name: str) -> str:
    return f"LLM_EXPORTER_{name}"


CONFIG_FLAGS = (
    Flag(
        "--config.file",
        "config_file",
        "YAML config file. Without it the embedded default runs (GPUs + engine discovery).",
        env=_env("CONFIG_FILE"),
        convert=file_path,
        metavar="FILE",
    ),
)
WEB_FLAGS = (
    Flag(
        "--web.listen-address",
        "listen_address",
        "Address to listen on, HOST:PORT.",
        default=":10556",
        env=_env("WEB_LISTEN_ADDRESS"),
        metavar="HOST:PORT",
    ),
    Flag(
        "--web.config.file",
        "web_config_file",
        "Exporter-toolkit web config: TLS and basic auth (same file as node_exporter's).",
        env=_env("WEB_CONFIG_FILE"),
        convert=file_path,
        metavar="FILE",
    ),
    Flag(
        "--web.max-requests",
        "max_requests",
        "Maximum concurrent scrapes; 0 = no limit.",
        default=40,
        env=_env("WEB_MAX_REQUESTS"),
        convert=integer,
        metavar="N",
    ),
    Flag(
        "--web.enable-lifecycle",
        "enable_lifecycle",
        "Enable POST /-/reload (off by default, like Prometheus); SIGHUP always reloads.",
        default=False,
        env=_env("WEB_ENABLE_LIFECYCLE"),
        switch=True,
    ),
)
LIMIT_FLAGS = (
    Flag(
        "--web.max-connections",
        "max_connections",
        "Maximum open HTTP connections; more are closed at once.",
        default=Limits.max_connections,
        env=_env("WEB_MAX_CONNECTIONS"),
        convert=int_at_least(1),
        metavar="N",
    ),
    Flag(
        "--web.read-header-timeout",
        "read_header_timeout",
        "Seconds a client has to send a request's headers (and finish a TLS handshake).",
        default=Limits.header_timeout,
        env=_env("WEB_READ_HEADER_TIMEOUT"),
        convert=float_at_least(0.1),
        metavar="SECONDS",
    ),
)
LOG_FLAGS = (
    Flag(
        "--log.level",
        "log_level",
        f"Only log at this level or above ({', '.join(logsetup.LEVELS)}).",
        default="info",
        env=_env("LOG_LEVEL"),
        convert=choice(*logsetup.LEVELS),
        metavar="LEVEL",
    ),
    Flag(
        "--log.format",
        "log_format",
        "Log line format (logfmt, json).",
        default="logfmt",
        env=_env("LOG_FORMAT"),
        convert=choice("logfmt", "json"),
        metavar="FORMAT",
    ),
)
SERVE_FLAGS = (*CONFIG_FLAGS, *WEB_FLAGS, *LIMIT_FLAGS, *LOG_FLAGS)


def add_flags(parser: argparse.ArgumentParser, flags: Sequence[Flag], prefix: str) -> None:
    """Put ``flags`` on ``parser``; their values go to ``prefix + dest``, and only when given."""
    for f in flags:
        kw: dict[str, Any] = {"dest": prefix + f.dest, "default": argparse.SUPPRESS, "help": f.describe()}
        if f.switch:
            kw["action"] = "store_true"
        else:
            kw["metavar"] = f.metavar
            if f.repeat:
                kw["action"] = "append"
        parser.add_argument(f.flag, **kw)


def flag_values(
    parser: argparse.ArgumentParser,
    parsed: argparse.Namespace,
    flags: Sequence[Flag],
    prefix: str = "",
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Each flag's value: the command line, else its environment variable (if set and not empty), else
    the default. A value that does not convert is a usage error (exit 2) naming the flag and variable."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in flags:
        raw = getattr(parsed, prefix + f.dest, None)
        source = f.flag
        try:
            if raw is None and f.env and env.get(f.env):
                source = f"{f.flag} (from {f.env})"
                values[f.dest] = boolean(env[f.env]) if f.switch else f.convert(env[f.env])
            elif raw is None:
                values[f.dest] = f.default
            elif f.switch:
                values[f.dest] = True
            elif f.repeat:
                values[f.dest] = tuple(f.convert(r) for r in raw)
            else:
                values[f.dest] = f.convert(raw)
        except ValueError as exc:
            parser.error(f"invalid value for {source}: {exc}")
    return values
