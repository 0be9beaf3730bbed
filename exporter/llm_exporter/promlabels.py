"""Label blocks of Prometheus text: splitting, unescaping, and the ``le`` of a bucket.

Helpers of ``promtext.Parser``'s careful path (the first sight of a label block);
errors name the line they come from.
"""

from __future__ import annotations

import re

LabelKey = tuple[tuple[str, str], ...]

LABEL_BLOCK = re.compile(r'\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\}')
PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_.:]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
ESC = re.compile(r"\\(.)")


class PromTextError(ValueError):
    """The body is not a well-formed (or not an acceptably small) exposition."""


def unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return ESC.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def bound(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise PromTextError(f"bad bucket bound le={raw!r}") from None


def split_simple(inner: str, line_no: int) -> LabelKey:
    """Sorted pairs of a label block without escapes (the text between the braces)."""
    out = []
    for part in inner.split('",'):
        if not part.strip():
            continue
        k, eq, v = part.partition("=")
        v = v.strip()
        if not eq or not v.startswith('"'):
            raise PromTextError(f"line {line_no}: bad label syntax {part[:40]!r}")
        v = v[1:]
        if v.endswith('"'):
            v = v[:-1]
        out.append((k.strip(), v))
    return tuple(sorted(out))


def split_escaped(inner: str, line_no: int) -> LabelKey:
    """Sorted pairs of a label block that holds escapes."""
    out = []
    pos = 0
    n = len(inner)
    while pos < n:
        pm = PAIR.match(inner, pos)
        if pm is None:
            if inner[pos:].strip():
                raise PromTextError(f"line {line_no}: bad label syntax {inner[pos : pos + 40]!r}")
            break
        out.append((pm.group(1), unescape(pm.group(2))))
        pos = pm.end()
    return tuple(sorted(out))


def split_le(pairs: LabelKey, line_no: int) -> tuple[LabelKey, float]:
    """A bucket's labels without ``le``, and the bound ``le`` gives."""
    le = None
    rest = []
    for k, v in pairs:
        if k == "le":
            le = bound(v)
        else:
            rest.append((k, v))
    if le is None:
        raise PromTextError(f"line {line_no}: bucket without le")
    return tuple(rest), le
