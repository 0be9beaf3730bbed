"""Counters that stay monotonic when they are sums of sources that restart or go away.

An exported counter often adds up several upstream counters: one per vLLM data-parallel
engine, one per RQ worker. When one source restarts (back to 0) or disappears, the plain sum
drops, and Prometheus reads the drop as a reset, so ``rate()`` shows a false spike.
``CounterFolder`` keeps the exported value monotonic instead.

An exported counter is finite and never decreases while the exporter runs, whatever the
sources say: a NaN, infinite or negative source value is ignored (the previous value of that
source is kept, so the next valid sample continues the series), and so is a value whose
addition would overflow to infinity. Callers that want to count or log such values check
them with ``reject_reason`` first.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Mapping

_INF = math.inf


def reject_reason(value: float, ratio: bool = False) -> str | None:
    """Why an upstream sample cannot be used (``nan``, ``inf``, ``negative``, ``out_of_range``), or None.

    ``ratio`` gauges must lie in 0-1; counters must not be negative (checked by the caller
    with ``ratio=False`` and a separate negative test, see ``counter_reject_reason``).
    """
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    if ratio and not 0.0 <= value <= 1.0:
        return "out_of_range"
    return None


def counter_reject_reason(value: float) -> str | None:
    """``reject_reason`` for a counter sample: non-finite or negative values are rejected."""
    why = reject_reason(value)
    if why is None and value < 0:
        return "negative"
    return why


class CounterFolder:
    """Keeps folded counters monotonic across resets of the upstream series they add up.

    For each exported value: the first time it is the sum of its sources; afterwards it
    grows by each source's increase, and a source that went down (restarted) contributes
    its new value. Invalid source values (non-finite, negative) are skipped. Entries of
    series not seen for ``keep`` updates are forgotten.
    """

    def __init__(self, keep: int = 10) -> None:
        self.keep = keep
        self._state: dict[tuple, tuple[float, dict[tuple, float], int]] = {}
        self._round = 0
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            self._round += 1
            if self._round % self.keep == 0:
                cutoff = self._round - self.keep
                self._state = {k: v for k, v in self._state.items() if v[2] >= cutoff}

    def update(self, key: tuple, sources: Mapping[tuple, float]) -> float:
        """The exported value of ``key`` after this round's ``sources``."""
        with self._lock:
            return self._update(key, sources)

    def update_many(self, items: Iterable[tuple[tuple, Mapping[tuple, float]]]) -> list[float]:
        """``update`` for many keys under one lock (the buckets of a histogram)."""
        with self._lock:
            return [self._update(key, sources) for key, sources in items]

    def _update(self, key: tuple, sources: Mapping[tuple, float]) -> float:
        prev = self._state.get(key)
        if prev is None:
            total, last = 0.0, {}
        else:
            total, last = prev[0], prev[1]
        for sid, value in sources.items():
            if not 0.0 <= value < _INF:  # NaN, negative or infinite: counter_reject_reason
                continue
            before = last.get(sid)
            grown = total + (value if before is None or value < before else value - before)
            if grown == _INF:  # the sum overflowed
                continue
            total = grown
            last[sid] = value
        self._state[key] = (total, last, self._round)
        return total

    def held(self, key: tuple) -> float | None:
        """The last exported value of ``key`` (None if unknown), without updating it."""
        with self._lock:
            prev = self._state.get(key)
            return None if prev is None else prev[0]

    def __len__(self) -> int:
        return len(self._state)


REJECT_REASONS = ("nan", "inf", "negative", "out_of_range")


class RejectedSamples:
    """Per-target count of upstream samples dropped as invalid, logged once per family and reason.

    The counts back ``llm_upstream_rejected_samples_total{target,reason}``: monotonic for the
    life of the collector, every reason exported from the first scrape (at 0).
    """

    def __init__(self, target: str, log: logging.Logger) -> None:
        self.target = target
        self._log = log
        self._counts: dict[str, int] = dict.fromkeys(REJECT_REASONS, 0)
        self._logged: set[tuple[str, str]] = set()

    def note(self, rejected: Iterable[tuple[str, str]]) -> None:
        """Count (family, reason) pairs; log each pair the first time it is seen."""
        for family, reason in rejected:
            self._counts[reason] = self._counts.get(reason, 0) + 1
            if (family, reason) not in self._logged and len(self._logged) < 1000:
                self._logged.add((family, reason))
                self._log.warning(
                    "target %s: dropped an upstream %s sample of %s (logged once per family and reason; "
                    "counted in llm_upstream_rejected_samples_total)",
                    self.target,
                    _REASON_WORDS.get(reason, reason),
                    family,
                )

    def counts(self) -> dict[str, int]:
        return dict(self._counts)


_REASON_WORDS = {
    "nan": "NaN",
    "inf": "infinite",
    "negative": "negative counter",
    "out_of_range": "out-of-range (not 0-1) ratio",
}
