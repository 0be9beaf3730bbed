"""Strict YAML to typed dataclasses, with errors that name the key path and the line.

The config dataclasses are the schema. Supported field types: ``str``, ``int``,
``float``, ``bool``, ``Duration`` (``"15s"``, ``"1m"``, ``"250ms"`` or a number of
seconds), ``Url``, ``Literal[...]``, ``list[T]``, ``dict[str, T]``, ``T | None``, unions
and nested dataclasses. Unknown keys are errors. Field metadata:

- ``secret=True``: the value may instead be given as ``<key>_file`` (a path whose content,
  stripped, is the value), never both;
- ``check``: a function returning an error message or ``None``;
- ``path=True``: relative file paths are resolved against the config file's folder.

Every scalar may use ``${VAR}`` or ``${VAR:-default}``; an unset variable with no default
is an error. The expanded value is a string, verbatim, never YAML again: ``${TOKEN}`` with
``TOKEN=0777`` is the string ``0777``, and a typed field (a port, a duration) converts that
string with the same checks and messages as a literal. A plain literal given to a string
field is taken as written too (``version: 1.10`` is ``"1.10"``), as Go's YAML decoder does.
All errors of a file are collected and reported together; no message shows the value of a
``secret`` field, and URLs in messages are redacted (``redact.py``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin
from urllib.parse import urlsplit

import yaml

from .configtypes import (  # re-exported: the schema's field types and checks live in configtypes
    ConfigError,
    Duration,
    Url,
    _DurationTag,
    _UrlTag,
    label_name,
    non_empty,
    non_negative,
    positive,
)
from .redact import redact, redact_url

__all__ = ["ConfigError", "Duration", "Url", "label_name", "load", "non_empty", "non_negative", "positive"]

T = TypeVar("T")

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class _Ctx:
    def __init__(
        self,
        env: Mapping[str, str],
        base_dir: Path,
        secrets: set[str] | None = None,
        names: Mapping[str, Any] | None = None,
    ) -> None:
        self.env = env
        self.base_dir = base_dir
        self.names = names  # more names the classes' string annotations use (see ``load``)
        self.errors: list[str] = []
        self.secrets: set[str] = (
            set() if secrets is None else secrets
        )  # values of secret fields: masked in every message

    def error(self, path: str, node: yaml.Node | None, msg: str) -> None:
        where = f" (line {node.start_mark.line + 1})" if node is not None else ""
        self.errors.append(redact(f"{path or '<root>'}: {msg}{where}"))


def load(
    text: str,
    cls: type[T],
    *,
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    names: Mapping[str, Any] | None = None,
) -> T:
    """Parse ``text`` into an instance of the dataclass ``cls`` or raise ``ConfigError``.

    ``names``: classes that annotations refer to without their module importing them (the
    config's target sections, defined in a module loaded only when a file is read).
    """
    ctx = _Ctx(os.environ if env is None else env, base_dir or Path.cwd(), names=names)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            node = yaml.MappingNode("tag:yaml.org,2002:map", [])
        value = _convert(node, cls, "", ctx)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError([redact(f"<root>: invalid YAML: {problem}{line}")]) from None
    except RecursionError:
        raise ConfigError(["<root>: invalid YAML: nested too deeply"]) from None
    if ctx.errors:
        raise ConfigError([_mask(e, ctx.secrets) for e in ctx.errors])
    return typing.cast(T, value)


def _mask(error: str, secrets: set[str]) -> str:
    """Mask the values of secret fields (also where they reached another field through ``${VAR}``)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:
            error = error.replace(secret, "xxxxx")
    return error


_MISSING = object()


def _convert(node: yaml.Node, tp: Any, path: str, ctx: _Ctx) -> Any:
    origin = get_origin(tp)
    if origin is Annotated:
        base, *meta = get_args(tp)
        if _DurationTag in meta:
            raw = _scalar(node, path, ctx)
            if raw is _MISSING:
                return raw
            try:
                return _duration(raw)
            except (ValueError, OverflowError):
                ctx.error(path, node, f"must be a duration like 15s, 2m or 500ms, got {_show(raw)}")
                return _MISSING
        value = _convert(node, base, path, ctx)
        if value is _MISSING:
            return value
        if _UrlTag in meta:
            problem = _url_problem(value)
            if problem:
                ctx.error(path, node, f"not a URL: {redact_url(value)!r} ({problem})")
                return _MISSING
        return value
    if origin in (Union, types.UnionType):
        return _convert_union(node, tp, path, ctx)
    if origin is Literal:
        raw = _scalar(node, path, ctx)
        if raw is _MISSING:
            return raw
        allowed = get_args(tp)
        for choice in allowed:
            if _loose_equal(raw, choice):
                return choice
        ctx.error(path, node, f"must be one of {', '.join(map(_show, allowed))}, got {_show(raw)}")
        return _MISSING
    if origin is list:
        if not isinstance(node, yaml.SequenceNode):
            ctx.error(path, node, "must be a list")
            return _MISSING
        (item_tp,) = get_args(tp)
        items = [_convert(n, item_tp, f"{path}[{i}]", ctx) for i, n in enumerate(node.value)]
        return [i for i in items if i is not _MISSING]
    if origin is dict:
        if not isinstance(node, yaml.MappingNode):
            ctx.error(path, node, "must be a mapping")
            return _MISSING
        _, val_tp = get_args(tp)
        out = {}
        for knode, vnode in node.value:
            key = str(knode.value)
            v = _convert(vnode, val_tp, _join(path, key), ctx)
            if v is not _MISSING:
                out[key] = v
        return out
    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(node, typing.cast(type, tp), path, ctx)
    if tp is Any:
        try:
            return yaml.safe_load(yaml.serialize(node))
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            ctx.error(path, node, "cannot read this value (unsupported YAML tag or form)")
            return _MISSING
    return _convert_scalar(node, tp, path, ctx)


def _convert_union(node: yaml.Node, tp: Any, path: str, ctx: _Ctx) -> Any:
    options = get_args(tp)
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null" and type(None) in options:
        return None
    errors: list[str] = []
    for option in options:
        if option is type(None):
            continue
        trial = _Ctx(ctx.env, ctx.base_dir, ctx.secrets, ctx.names)
        value = _convert(node, option, path, trial)
        if not trial.errors:
            return value
        errors.extend(trial.errors)
    ctx.errors.append(
        errors[0]
        if len(errors) == 1
        else f"{path or '<root>'}: none of the allowed forms fits (line {node.start_mark.line + 1}): "
        + " / ".join(re.sub(r" \(line \d+\)$", "", e.split(": ", 1)[1]) for e in errors)
    )
    return _MISSING


def _convert_dataclass(node: yaml.Node, cls: type, path: str, ctx: _Ctx) -> Any:
    if not isinstance(node, yaml.MappingNode):
        ctx.error(path, node, "must be a mapping")
        return _MISSING
    hints = typing.get_type_hints(cls, localns=ctx.names, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    secrets = {f"{n}_file": n for n, f in fields.items() if f.metadata.get("secret")}
    given: dict[str, yaml.Node] = {}
    for knode, vnode in node.value:
        key = str(knode.value)
        if key in given:
            ctx.error(_join(path, key), knode, "duplicate key")
        elif key not in fields and key not in secrets:
            ctx.error(_join(path, key), knode, f"unknown key (known: {', '.join(sorted(fields))})")
        given[key] = vnode
    kwargs: dict[str, Any] = {}
    failed = False
    for name, f in fields.items():
        sub = _join(path, name)
        file_key = f"{name}_file"
        if f.metadata.get("secret") and file_key in given:
            if name in given:
                ctx.error(sub, given[name], f"give either {name} or {file_key}, not both")
                failed = True
                continue
            fnode = given[file_key]
            fpath = _scalar(fnode, _join(path, file_key), ctx)
            if fpath is _MISSING:
                failed = True
                continue
            resolved = _resolve(str(fpath), ctx)
            try:
                kwargs[name] = Path(resolved).read_text(encoding="utf-8").strip()
                ctx.secrets.add(kwargs[name])
            except OSError as exc:
                ctx.error(_join(path, file_key), fnode, f"cannot read secret file: {exc.strerror}")
                failed = True
            continue
        if name not in given:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                ctx.error(sub, node, "required key is missing")
                failed = True
            continue
        if f.metadata.get("secret"):
            value = _convert_secret(given[name], hints[name], sub, ctx)
        else:
            value = _convert(given[name], hints[name], sub, ctx)
        if value is _MISSING:
            failed = True
            continue
        if f.metadata.get("path") and isinstance(value, str):
            value = _resolve(value, ctx)
        check: Callable[[Any], str | None] | None = f.metadata.get("check")
        if check is not None:
            problem = check(value)
            if problem:
                ctx.error(sub, given[name], problem)
                failed = True
                continue
        kwargs[name] = value
    if failed:
        return _MISSING
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        ctx.error(path, node, str(exc))
        return _MISSING
    validate = getattr(obj, "validate", None)
    if callable(validate):
        for problem_path, problem in validate():
            ctx.error(_join(path, problem_path), _find(node, problem_path) or node, problem)
    return obj


def _convert_secret(node: yaml.Node, tp: Any, path: str, ctx: _Ctx) -> Any:
    """A secret field: the same conversion, but no error message may show the value."""
    trial = _Ctx(ctx.env, ctx.base_dir, ctx.secrets, ctx.names)
    value = _convert(node, tp, path, trial)
    if isinstance(value, str):
        ctx.secrets.add(value)
    for e in trial.errors:
        if "environment variable" in e and "is not set" in e:
            ctx.errors.append(e)
            break
    else:
        if trial.errors:
            ctx.error(path, node, "must be a single string (the value is not shown: it is a secret)")
    return value


_VERBATIM_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "timestamp")}


def _convert_scalar(node: yaml.Node, tp: Any, path: str, ctx: _Ctx) -> Any:
    if (
        tp is str
        and isinstance(node, yaml.ScalarNode)
        and node.style is None
        and node.tag in _VERBATIM_TAGS
        and "${" not in node.value
    ):
        return node.value  # a string field takes a plain literal as written (``0777``, ``1:30``)
    raw = _scalar(node, path, ctx)
    if raw is _MISSING:
        return raw
    try:
        if tp is bool:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            raise ValueError
        if tp is int:
            if isinstance(raw, (bool, float)):
                raise ValueError
            return int(raw)
        if tp is float:
            if isinstance(raw, bool):
                raise ValueError
            number = float(raw)
            if not math.isfinite(number):
                raise ValueError
            return number
        if tp is str:
            if isinstance(raw, (dict, list)):
                raise ValueError
            return raw if isinstance(raw, str) else _show(raw)
    except (TypeError, ValueError, OverflowError):
        ctx.error(path, node, f"must be {_type_name(tp)}, got {_show(raw)}")
        return _MISSING
    raise TypeError(f"unsupported config type {tp!r} at {path}")


def _scalar(node: yaml.Node, path: str, ctx: _Ctx) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        ctx.error(path, node, "must be a single value")
        return _MISSING
    text = node.value
    if "${" not in text:
        if node.style is not None and node.tag == "tag:yaml.org,2002:str":
            return text
        try:
            return yaml.safe_load(yaml.serialize(node))
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            ctx.error(path, node, "cannot read this value (unsupported YAML tag or form)")
            return _MISSING
    # An environment variable's value is a string, verbatim: never parsed as YAML again.
    return _expand(text, path, node, ctx)


def _expand(text: str, path: str, node: yaml.Node, ctx: _Ctx) -> Any:
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in ctx.env:
            return ctx.env[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    out = _ENV.sub(sub, text)
    if missing:
        ctx.error(path, node, f"environment variable {missing[0]} is not set")
        return _MISSING
    return out


def _duration(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, (int, float)):
        if raw < 0 or not math.isfinite(raw):
            raise ValueError
        return float(raw)
    m = _DURATION.match(str(raw))
    if not m:
        raise ValueError
    return float(m.group(1)) * _UNITS[m.group(2)]


def _url_problem(value: str) -> str | None:
    """Why ``value`` is not a usable URL, or None."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return "spaces or control characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return "bad port" if "port" in str(exc).lower() else "malformed host"
    if not parts.scheme or not parts.scheme.isascii():
        return "no scheme"
    if parts.scheme == "unix":
        return None if parts.path else "no socket path"
    if not parts.hostname:
        return "no host"
    return None


def _resolve(value: str, ctx: _Ctx) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else ctx.base_dir / p)


def _find(node: yaml.Node, sub: str) -> yaml.Node | None:
    """The node at a dotted/indexed sub-path of ``node`` (for error lines)."""
    cur: yaml.Node | None = node
    for part in re.findall(r"[^.\[\]]+", sub):
        if isinstance(cur, yaml.MappingNode):
            cur = next((v for k, v in cur.value if str(k.value) == part), None)
        elif isinstance(cur, yaml.SequenceNode) and part.isdigit() and int(part) < len(cur.value):
            cur = cur.value[int(part)]
        else:
            return None
    return cur


def _join(path: str, key: str) -> str:
    if not key:
        return path
    if key.startswith("["):
        return path + key
    return f"{path}.{key}" if path else key


def _loose_equal(raw: Any, choice: Any) -> bool:
    if isinstance(choice, bool) or isinstance(raw, bool):
        return raw is choice
    return bool(raw == choice)


def _show(v: Any) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    return repr(v) if isinstance(v, str) else str(v)


def _type_name(tp: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number or duration", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )
