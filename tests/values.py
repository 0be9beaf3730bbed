"""Read values out of what the exporter produced: a ``MetricSet`` or an exposition text body."""

from __future__ import annotations

import re

from llm_exporter.metricset import MetricSet

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \S+)?$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def value(ms: MetricSet, name: str, **labels: str) -> float | None:
    """The value of the one series of ``name`` whose labels include ``labels`` (None if absent)."""
    found = [v for k, v in ms.series(name).items() if labels.items() <= dict(k).items()]
    assert len(found) <= 1, f"{name}{labels}: several series {found}"
    return float(found[0]) if found else None  # type: ignore[arg-type]


def samples(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample of ``name`` in an exposition body, keyed by its label set."""
    out = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and m.group(1) == name:
            out[frozenset(_LABEL.findall(m.group(2) or ""))] = float(m.group(3))
    return out


def text_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the one sample of ``name`` whose labels include ``labels`` (None if absent or several)."""
    want = set(labels.items())
    found = [v for k, v in samples(text, name).items() if want <= k]
    return found[0] if len(found) == 1 else None
