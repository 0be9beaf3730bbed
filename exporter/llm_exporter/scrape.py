"""The scrape engine: run every collector concurrently under one deadline.

Each scrape fans out over the configured collectors. A collector reads its source once
and fills a fresh ``MetricSet``; nothing scraped is kept in global state. Rules:

- A collector that raises or misses the deadline never fails the scrape: it gets
  ``llm_scrape_collector_success{collector} 0`` and, if it reads a target,
  ``llm_target_up{target} 0``. A collector that raises ``TargetDown`` reports an
  unreachable or broken upstream: ``llm_target_up 0`` while the collector stays successful.
- A collector of one target (``target`` set) that misses the deadline reports a slow
  upstream: ``llm_target_up 0`` with the collector still successful. A collector without a
  target (GPU) that misses it fails (``llm_scrape_collector_success 0``).
- Single flight: concurrent scrapes share one in-flight read of a collector. A read still
  running past its deadline is abandoned (Python cannot kill it): the next scrape starts a
  fresh read instead of joining it, but only one abandoned read per collector may run, so
  stuck reads never pile up (HTTP reads end at their deadline anyway, ``httpread``).
  While its read is late, a collector is represented by what its ``fallback`` gives
  (health gauges kept in memory, e.g. ``llm_gpu_nvml_up 0``).
- State changes (up, target down, failed) are logged once, not on every scrape.
- Minimum interval: a result younger than ``min_interval`` is served again instead of
  reading the upstream, which protects upstreams from HA Prometheus pairs.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .metricset import MetricSet

log = logging.getLogger(__name__)


class TargetDown(Exception):
    """The upstream could not be read (refused, timeout, HTTP error, garbage body)."""


class CollectorFailed(Exception):
    """The collection failed, but the series already added to ``out`` are valid and kept.

    For health gauges that must be served together with ``llm_scrape_collector_success 0``
    (e.g. ``llm_gpu_nvml_up 0`` when NVML cannot be initialised).
    """


class Deadline:
    """A point in monotonic time by which a collection must finish."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.at = clock() + max(0.0, seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - self._clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def timeout(self, cap: float | None = None) -> float:
        """Seconds to allow one blocking call: the time left, at most ``cap``, at least 1 ms."""
        left = self.remaining()
        if cap is not None:
            left = min(left, cap)
        return max(left, 0.001)


@runtime_checkable
class Collector(Protocol):
    """What the engine runs; every collector implements all of it (``collectors.base`` has defaults).

    ``name`` is the ``collector`` label value (``gpu``, ``inference``, ``queue`` ...);
    ``key`` identifies this instance for single flight (one per target); ``target`` is the
    configured upstream name or ``None``; ``config`` is the configuration it was built from:
    a reload keeps the running instance when ``key``, type and ``config`` are unchanged.
    Constructors do no I/O and start no threads.
    """

    name: str
    key: str
    target: str | None

    @property
    def config(self) -> object:
        """The (comparable) configuration this collector was built from."""

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        """Read the source once and fill ``out``, aiming to finish before ``deadline``.

        The engine runs it in its own thread and stops waiting at the deadline.
        """

    def fallback(self, out: MetricSet) -> None:
        """Series to serve when ``collect`` missed the deadline or is still running (no I/O)."""

    def close(self) -> None:
        """Release threads and connections; the instance is not used afterwards."""


def close_collectors(collectors: Iterable[Collector]) -> None:
    """Close each collector; one that raises is logged (one line, no traceback) and does not stop the others."""
    for c in collectors:
        try:
            c.close()
        except Exception as exc:
            log.warning("closing collector %s: %s: %s", c.key, type(exc).__name__, exc)


@dataclass
class Outcome:
    """The result of one read of one collector."""

    metrics: MetricSet
    ok: bool
    duration: float
    error: str = ""
    target_ok: bool = True
    finished_at: float = 0.0
    seq: int = 0  # unique per engine: two scrapes with the same seqs served the same reads


@dataclass
class Collection:
    """One scrape's result: the metrics, and a key equal for scrapes served the same reads."""

    metrics: MetricSet
    key: tuple[int, ...]


@dataclass
class _Cell:
    lock: threading.Lock = field(default_factory=threading.Lock)
    inflight: Future[Outcome] | None = None
    inflight_deadline: Deadline | None = None
    abandoned: Future[Outcome] | None = None
    last: Outcome | None = None
    last_state: tuple[bool, bool] = (True, True)


class ScrapeEngine:
    """Runs collectors with single flight, a minimum interval and a scrape deadline."""

    def __init__(
        self,
        collectors: Sequence[Collector],
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.collectors = list(collectors)
        self.min_interval = min_interval
        self._clock = clock
        self._cells: dict[str, _Cell] = {c.key: _Cell() for c in self.collectors}
        self._seq = itertools.count(1)

    def scrape(self, timeout: float) -> MetricSet:
        """One scrape: every collector's metrics plus the success/duration/up gauges."""
        return self.collect(timeout).metrics

    def collect(self, timeout: float) -> Collection:
        """Like ``scrape``, with the key that tells whether anything was read anew."""
        deadline = Deadline(timeout, self._clock)
        started = [(c, self._start(c, deadline)) for c in self.collectors]
        out = MetricSet()
        key: list[int] = []
        per_collector: dict[str, tuple[bool, float]] = {}
        for collector, (fut, shared) in started:
            outcome = self._wait(collector, fut, shared, deadline, timeout)
            key.append(outcome.seq)
            out.merge(outcome.metrics)
            if collector.target is not None and not out.has("llm_target_up", target=collector.target):
                out.add("llm_target_up", 1.0 if outcome.target_ok else 0.0, {"target": collector.target})
            ok, dur = per_collector.get(collector.name, (True, 0.0))
            per_collector[collector.name] = (ok and outcome.ok, max(dur, outcome.duration))
        for name, (ok, dur) in sorted(per_collector.items()):
            out.add("llm_scrape_collector_success", 1.0 if ok else 0.0, {"collector": name})
            out.add("llm_scrape_collector_duration_seconds", dur, {"collector": name})
        return Collection(out, tuple(key))

    def collect_one(self, collector: Collector, timeout: float) -> Outcome:
        """One read of one of this engine's collectors, under the same rules as ``scrape``."""
        deadline = Deadline(timeout, self._clock)
        fut, shared = self._start(collector, deadline)
        return self._wait(collector, fut, shared, deadline, timeout)

    def _wait(
        self, collector: Collector, fut: Future[Outcome], shared: bool, deadline: Deadline, timeout: float
    ) -> Outcome:
        """The read's outcome, or at the deadline a late one holding the collector's fallback.

        A late read of a target is its target's problem (``llm_target_up 0``, the collector
        stays successful); a late read without a target (GPU) fails the collector.
        """
        started = deadline.at - max(0.0, timeout)
        try:
            return fut.result(timeout=deadline.remaining())
        except TimeoutError:
            pass
        kept = MetricSet()
        try:
            collector.fallback(kept)
        except Exception:
            log.debug("fallback of collector %s raised", collector.key, exc_info=True)
            kept = MetricSet()
        error = (
            "a read started by an earlier scrape is still running (stuck); not starting another"
            if shared
            else f"deadline of {timeout:.3g}s exceeded"
        )
        outcome = Outcome(
            kept,
            ok=collector.target is not None,
            duration=self._clock() - started,
            error=error,
            target_ok=False,
            seq=next(self._seq),
        )
        self._note_state(collector, outcome)
        return outcome

    # -- single flight -----------------------------------------------------------------
    def _start(self, collector: Collector, deadline: Deadline) -> tuple[Future[Outcome], bool]:
        """The read to wait for, and whether it is one that an earlier scrape started."""
        cell = self._cells[collector.key]
        with cell.lock:
            now = self._clock()
            if cell.inflight is not None and not cell.inflight.done():
                fresh_allowed = cell.abandoned is None or cell.abandoned.done()
                if not (fresh_allowed and cell.inflight_deadline is not None and cell.inflight_deadline.expired()):
                    return cell.inflight, True
                cell.abandoned = cell.inflight  # past its deadline: let it finish alone, read afresh
            if cell.last is not None and now - cell.last.finished_at < self.min_interval:
                done: Future[Outcome] = Future()
                done.set_result(cell.last)
                return done, False
            fut: Future[Outcome] = Future()
            cell.inflight, cell.inflight_deadline = fut, deadline
        thread = threading.Thread(
            target=self._run,
            args=(collector, deadline, fut, cell),
            name=f"collect-{collector.key}",
            daemon=True,
        )
        thread.start()
        return fut, False

    def _run(self, collector: Collector, deadline: Deadline, fut: Future[Outcome], cell: _Cell) -> None:
        t0 = self._clock()
        metrics = MetricSet()
        try:
            collector.collect(metrics, deadline)
            outcome = Outcome(metrics, ok=True, duration=self._clock() - t0)
        except TargetDown as exc:
            outcome = Outcome(
                MetricSet(), ok=True, duration=self._clock() - t0, error=str(exc) or type(exc).__name__, target_ok=False
            )
        except CollectorFailed as exc:
            outcome = Outcome(metrics, ok=False, duration=self._clock() - t0, error=str(exc) or type(exc).__name__)
        except Exception as exc:  # a collector bug must not fail the scrape
            log.debug("collector %s raised", collector.key, exc_info=True)
            outcome = Outcome(
                MetricSet(),
                ok=False,
                duration=self._clock() - t0,
                error=f"{type(exc).__name__}: {exc}",
                target_ok=False,
            )
        outcome.finished_at = self._clock()
        outcome.seq = next(self._seq)
        with cell.lock:
            current = cell.inflight is fut
            if current:
                cell.last = outcome
                cell.inflight = cell.inflight_deadline = None
        if current:  # an abandoned read's late result is neither served nor logged
            self._note_state(collector, outcome)
        fut.set_result(outcome)

    def _note_state(self, collector: Collector, outcome: Outcome) -> None:
        """Log a failure once per change of state (not of its message), not on every scrape."""
        cell = self._cells[collector.key]
        state = (outcome.ok, outcome.target_ok)
        if state == cell.last_state:
            return
        cell.last_state = state
        who = collector.key
        if not outcome.ok:
            log.error("collector %s failed: %s", who, outcome.error)
        elif not outcome.target_ok:
            log.warning("target %s is down: %s", collector.target or who, outcome.error)
        else:
            log.info("collector %s recovered", who)

    def close(self) -> None:
        """Release background resources held by collectors (threads, handles)."""
        close_collectors(self.collectors)

    def last_outcomes(self) -> list[tuple[Collector, Outcome | None]]:
        """Each collector with the outcome of its last finished read (None before any): for the status page."""
        return [(c, self._cells[c.key].last) for c in self.collectors]
