"""Render a ``MetricSet`` as Prometheus text 0.0.4 or OpenMetrics 1.0.0.

The output is byte-for-byte what ``prometheus_client``'s encoders write for the same
families (labels sorted by name, ``le`` among them, values in Go's float spelling), but
written straight from the catalog and the label tuples, without building
``prometheus_client`` families first, and without importing ``prometheus_client`` at all.

``choose_format`` does the content negotiation of ``prometheus_client.exposition.choose_encoder``
for what Prometheus sends: OpenMetrics 1.x when asked for, text 0.0.4 otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .catalog import MetricSpec
from .metricset import Histogram, LabelKey, MetricSet

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_INF = math.inf


def choose_format(accept: str | None) -> tuple[bool, str]:
    """(OpenMetrics?, content type) for an ``Accept`` header.

    The first ``application/openmetrics-text`` entry of version 1 or later (or without a
    version) selects OpenMetrics 1.0.0; anything else gets text 0.0.4. Every name the
    catalog holds is a legacy name, so the ``allow-utf-8`` and ``underscores`` escapings
    render the same bytes and the one asked for is announced.
    """
    for accepted in (accept or "").split(","):
        media, *params = (p.strip() for p in accepted.split(";"))
        if media != "application/openmetrics-text":
            continue
        opts = dict(p.split("=", 1) for p in params if "=" in p)
        version = opts.get("version", "")
        if version and not _major_at_least_1(version):
            continue
        if not version:
            return True, OPENMETRICS
        escaping = "allow-utf-8" if opts.get("escaping") == "allow-utf-8" else "underscores"
        return True, f"{OPENMETRICS}; escaping={escaping}"
    return False, TEXT


def _major_at_least_1(version: str) -> bool:
    major = version.split(".", 1)[0]
    return major.isdigit() and int(major) >= 1


def go_float(value: float) -> str:
    """Go's spelling of a float, as Prometheus clients write it (``+Inf``, ``1e+06``)."""
    s = repr(value)
    dot = s.find(".")
    if dot > 6 and value > 0:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    if "n" in s:  # repr of a finite float has no 'n': inf, -inf, nan
        return "+Inf" if value == _INF else "-Inf" if value == -_INF else "NaN"
    return s


def go_floats(values: Sequence[float]) -> list[str]:
    """``go_float`` of each value; one ``repr`` pass when every value is finite and below 1e6
    (where Go's spelling is Python's), as histogram counts usually are."""
    # A finite sum rules out NaN and infinities, and then max() is reliable.
    if math.isfinite(sum(values)) and max(values, default=0.0) < 1e6:
        return list(map(repr, values))
    return list(map(go_float, values))


def _le(bound: float) -> str:
    """A bucket bound as the ``le`` label has always been written here: ``+Inf`` or Python's repr."""
    return "+Inf" if bound == _INF else repr(bound)


def _escape_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _pairs(key: LabelKey) -> list[str]:
    return [f'{k}="{_escape_value(v)}"' for k, v in sorted(key)]


def _labels(key: LabelKey) -> str:
    return "{" + ",".join(_pairs(key)) + "}" if key else ""


def _help(spec: MetricSpec, openmetrics: bool) -> str:
    text = spec.help.replace("\\", r"\\").replace("\n", r"\n")
    return text.replace('"', r"\"") if openmetrics else text


def _histogram_lines(
    name: str, key: LabelKey, h: Histogram, out: list[str], les: dict[tuple[float, ...], list[str]]
) -> None:
    """The lines of one histogram; ``les`` keeps the ``le`` texts of each set of bounds during one render."""
    pairs = _pairs(key)
    # Where ``le`` falls among the sorted label names: each bucket line is head, le, tail, count.
    at = sum([k < "le" for k, _ in key])
    head = name + "_bucket{" + "".join([p + "," for p in pairs[:at]]) + 'le="'
    tail = '"' + "".join(["," + p for p in pairs[at:]]) + "} "
    texts = les.get(h.bounds)
    if texts is None:
        texts = les[h.bounds] = [_le(le) for le in h.bounds]
    counts = go_floats(h.counts)
    n = len(counts)
    if n:
        # head + (le, tail, count, newline + head) per bucket, the last newline without a head.
        parts = [tail] * (4 * n)
        parts[0::4] = texts
        parts[2::4] = counts
        parts[3::4] = ["\n" + head] * n
        parts[-1] = "\n"
        out.append(head)
        out.append("".join(parts))
    labels = "{" + ",".join(pairs) + "}" if pairs else ""
    count = counts[-1] if counts else "0.0"
    out.append(f"{name}_count{labels} {count}\n{name}_sum{labels} {go_float(h.sum)}\n")


def _family(
    spec: MetricSpec,
    series: Mapping[LabelKey, float | Histogram],
    openmetrics: bool,
    out: list[str],
    les: dict[tuple[float, ...], list[str]],
) -> None:
    name = spec.name
    header = name.removesuffix("_total") if spec.type == "counter" and openmetrics else name
    out.append(f"# HELP {header} {_help(spec, openmetrics)}\n")
    out.append(f"# TYPE {header} {spec.type}\n")
    if spec.type == "histogram":
        for key, value in series.items():
            if isinstance(value, Histogram):
                _histogram_lines(name, key, value, out, les)
        return
    for key, value in series.items():
        if not isinstance(value, Histogram):
            out.append(f"{name}{_labels(key)} {go_float(value)}\n")


def render(metrics: MetricSet, openmetrics: bool = False) -> bytes:
    """The exposition of every series in ``metrics``, families in catalog order."""
    out: list[str] = []
    les: dict[tuple[float, ...], list[str]] = {}
    for spec, series in metrics.items():
        _family(spec, series, openmetrics, out, les)
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out).encode("utf-8")
