"""The bundle config (``monitoring/bundle.yml``) and the PromQL helpers built on it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .matchers import selector

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_BUNDLE = HERE / "bundle.yml"

_DUR = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(duration: str) -> float:
    """``"5m"`` -> 300.0 (single-unit Prometheus durations only)."""
    m = _DUR.match(str(duration))
    if not m:
        raise ValueError(f"not a duration: {duration!r}")
    return int(m.group(1)) * _SECONDS[m.group(2)]


def le(value: float) -> str:
    """A bucket boundary spelled the way the exporter renders ``le`` (``repr(float)``)."""
    return repr(float(value))


@dataclass(frozen=True)
class Bundle:
    """Typed access to ``bundle.yml`` plus selector helpers."""

    raw: dict[str, Any]

    @classmethod
    def load(cls, path: Path | str = DEFAULT_BUNDLE) -> Bundle:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a mapping")
        return cls(data)

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def agg(self) -> list[str]:
        return list(self.raw.get("aggregation_labels") or ["job"])

    def by(self, *labels: str) -> str:
        """``by (job, model)``: the aggregation labels plus ``labels``."""
        seen: list[str] = []
        for label in (*self.agg, *labels):
            if label not in seen:
                seen.append(label)
        return f"by ({', '.join(seen)})"

    def on(self, *labels: str) -> str:
        return "on (" + ", ".join(dict.fromkeys((*self.agg, *labels))) + ")"

    def sel(self, name: str, *matchers: str) -> str:
        """``name{matchers..., metric_selector}`` (just ``name`` when there is no matcher)."""
        parts = [m for m in (*matchers, self.raw.get("metric_selector") or "") if m]
        return name + selector(*parts) if parts else name

    def alert(self, name: str) -> dict[str, Any]:
        return dict(self.raw.get("alerts", {}).get(name) or {})

    def for_(self, name: str) -> str:
        return str(self.alert(name).get("for", "5m"))

    @property
    def startup_grace(self) -> str:
        """How long a new inference pod may take to load its model before alerts treat it as down."""
        return str(self.raw.get("startup_grace", "20m"))

    @property
    def rate_window(self) -> str:
        return str(self.raw.get("rate_window", "5m"))

    def runbook_url(self, alert: str) -> str:
        return f"{self.raw['runbook_url_base'].rstrip('/')}/{alert}.md"
