"""A small PromQL reader: the metric names an expression selects.

Good enough for the expressions this bundle writes (and checked against promtool in the
tests): strings, label matchers, ranges, label lists after by/without/on/ignoring/
group_left/group_right, function names, keywords and numbers are not metric names.
"""

from __future__ import annotations

import re

KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "atan2",
    "topk",
    "bottomk",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Metric (or recorded series) names selected by ``expr``."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\$\{?\w+\}?", "x", text)  # Grafana variables (only inside matchers/ranges)
    text = _BRACES.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    text = re.sub(r"\boffset\s+\d+\w*", " ", text)
    names: set[str] = set()
    for m in _IDENT.finditer(text):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in KEYWORDS or re.fullmatch(r"\d.*", name):
            continue
        names.add(name)
    return names


def selectors(expr: str) -> list[str]:
    """``name{...}`` selectors (with their matchers) in ``expr``, for label checks."""
    return re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*\{[^{}]*\}", _STRING.sub(lambda m: m.group(0), expr))
