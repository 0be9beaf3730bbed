"""Drift guard: which metric families an engine exposes that its table neither maps nor ignores.

Engines rename metrics in nearly every release. Each table lists the families it maps (its
rules) and the families it deliberately ignores (``Engine.ignored``: names or ``fnmatch``
patterns such as ``python_*``). ``unknown_families`` reads a real ``/metrics`` body and
returns every family that is in neither list, so a test against a real server fails with the
new family's name the day an upgrade renames one.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from ...promtext import canonical
from .mapping import Engine, LoraInfoRule, Rule, SumCountRule

# Suffixes a family's samples carry (prometheus_client, prometheus-cpp, Rust exporter).
_SAMPLE_SUFFIXES = ("_bucket", "_count", "_sum", "_created", "_total", "_gcount", "_gsum", "_info")
_FAMILY_SUFFIXES = ("_total", "_sum", "_count", "_bucket")


def exposed_families(text: str) -> dict[str, str]:
    """Family names in an exposition body: canonical name -> name as spelled in the body.

    Every ``# TYPE`` line names a family; a sample with no ``# TYPE`` line of its own
    (untyped bodies) is its own family. ``x_created`` gauges that prometheus_client
    prints for counters and histograms are folded into ``x``.
    """
    typed: dict[str, str] = {}
    samples: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 3:
                typed.setdefault(canonical(parts[2]), parts[2])
        elif line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0].strip()
            if name:
                samples.setdefault(canonical(name), name)
    families = dict(typed)
    for name, spelled in samples.items():
        if name in typed or any(name == t + s for t in typed for s in _SAMPLE_SUFFIXES):
            continue
        families[name] = spelled
    out: dict[str, str] = {}
    for f, spelled in families.items():
        base = f.removesuffix("_created")
        if base != f and ({base, base + "_total", base.removesuffix("_total")} & families.keys()):
            continue
        out[f] = spelled
    return out


def mapped_names(engine: Engine) -> set[str]:
    """Canonical upstream names the table reads (samples, counters and histogram bases)."""
    out: set[str] = set()
    for r in engine.rules:
        if isinstance(r, SumCountRule):
            out.add(r.sum.key)
            out.update(s.key for s in r.count)
        elif isinstance(r, LoraInfoRule):
            out.add(r.src.key)
        elif isinstance(r, Rule):
            out.update(s.key for alt in r.alternatives for s in alt)
    return out


def _stems(family: str) -> set[str]:
    """``family`` plus the spellings of it a table may use (with or without a suffix)."""
    stems = {family, family + "_total"}
    for suffix in _FAMILY_SUFFIXES:
        if family.endswith(suffix):
            stems.add(family[: -len(suffix)])
    stems.update({s + suffix for s in list(stems) for suffix in ("_sum", "_count")})
    return stems


@dataclass(frozen=True)
class Families:
    """An exposition body's families, split by what ``engine``'s table does with them."""

    mapped: tuple[str, ...]
    ignored: tuple[str, ...]
    unknown: tuple[str, ...]


def classify(engine: Engine, text: str) -> Families:
    """Split the families of ``text`` into mapped, deliberately ignored and unknown (each sorted)."""
    names = mapped_names(engine)
    patterns = [canonical(p) for p in engine.ignored]
    mapped, ignored, unknown = [], [], []
    for family, spelled in sorted(exposed_families(text).items()):
        stems = _stems(family)
        if stems & names:
            mapped.append(spelled)
        elif any(fnmatch.fnmatchcase(s, p) for s in stems for p in patterns):
            ignored.append(spelled)
        else:
            unknown.append(spelled)
    return Families(tuple(mapped), tuple(ignored), tuple(unknown))


def unknown_families(engine: Engine, text: str) -> list[str]:
    """Families in ``text`` that ``engine`` neither maps nor lists in ``ignored`` (sorted)."""
    return list(classify(engine, text).unknown)
