"""Small helpers for the gpu tests: run the collector, parse and render its output."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from llm_exporter.collectors.gpu import GpuCollector
from llm_exporter.config import GpuConfig
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import ScrapeEngine
from prometheus_client import generate_latest


@contextmanager
def collector(**config: object) -> Iterator[GpuCollector]:
    """A collector with short test timings; closed (watcher joined, NVML released) afterwards."""
    config.setdefault("enabled", True)
    c = GpuCollector(GpuConfig(**config), backoff=(0.05, 0.2), xid_wait_ms=50)  # type: ignore[arg-type]
    try:
        yield c
    finally:
        c.close(join=5.0)


_ENGINES: weakref.WeakKeyDictionary[GpuCollector, ScrapeEngine] = weakref.WeakKeyDictionary()


def collect(c: GpuCollector, timeout: float = 10.0) -> tuple[MetricSet, str | None]:
    """One collection run by a scrape engine (deadline, single flight, no minimum interval),
    as the exporter runs it: (the collector's metrics, the error if the collection failed)."""
    engine = _ENGINES.get(c)
    if engine is None:
        engine = _ENGINES[c] = ScrapeEngine([c], min_interval=0.0)
    outcome = engine.collect_one(c, timeout)
    return outcome.metrics, None if outcome.ok else outcome.error


def text(m: MetricSet) -> str:
    return generate_latest(m).decode()


def series_of(m: MetricSet, uuid: str) -> list[str]:
    """Names of the metrics that have a series for this GPU."""
    return sorted({name for name in m.names() for key in m.series(name) if dict(key).get("uuid") == uuid})
