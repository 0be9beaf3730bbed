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
import operator
import threading
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

_INF = math.inf
_add, _sub = operator.add, operator.sub


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


# A series or source identity: any hashable tuple (names, label pairs ...).
Key = tuple[Hashable, ...]


class CounterFolder:
    """Keeps folded counters monotonic across resets of the upstream series they add up.

    For each exported value: the first time it is the sum of its sources; afterwards it
    grows by each source's increase, and a source that went down (restarted) contributes
    its new value. Invalid source values (non-finite, negative) are skipped. Entries of
    series not seen for ``keep`` updates are forgotten.
    """

    def __init__(self, keep: int = 10) -> None:
        self.keep = keep
        self._state: dict[Key, tuple[float, dict[Key, float] | _HistState, int]] = {}
        self._round = 0
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            self._round += 1
            if self._round % self.keep == 0:
                cutoff = self._round - self.keep
                self._state = {k: v for k, v in self._state.items() if v[2] >= cutoff}
                for v in self._state.values():
                    if isinstance(v[1], _HistState):
                        v[1].prune(cutoff)

    def update(self, key: Key, sources: Mapping[Key, float], forget_missing: bool = False) -> float:
        """The exported value of ``key`` after this round's ``sources``.

        ``forget_missing``: sources absent this round are forgotten (memory stays bounded by
        the sources present); one that comes back counts as restarted from 0. Right for
        upstreams that drop a series only by removing it (LiteLLM's series TTL).
        """
        with self._lock:
            return self._update(key, sources, forget_missing)

    def update_many(self, items: Iterable[tuple[Key, Mapping[Key, float]]]) -> list[float]:
        """``update`` for many keys under one lock (the buckets of a histogram)."""
        with self._lock:
            return [self._update(key, sources) for key, sources in items]

    def update_hist(
        self, key: Key, bounds: Sequence[float], sources: Mapping[Key, tuple[Mapping[float, float], float]]
    ) -> tuple[list[float], float]:
        """The exported cumulative count of each of ``bounds`` and the exported sum of one histogram.

        ``sources`` maps each source to (its buckets by bound, its sum); every one of the
        (distinct) ``bounds`` must be in every source's buckets. The same folding as ``update``
        applied to each bucket and to the sum, with the state kept per histogram.
        """
        layout = tuple(bounds)
        columns = {
            sid: (list(buckets.values()) if tuple(buckets) == layout else list(map(buckets.__getitem__, layout)), total)
            for sid, (buckets, total) in sources.items()
        }
        return self.update_hist_columns(key, layout, columns)

    def hist_bounds(self, key: Key) -> tuple[float, ...]:
        """The bounds of the last ``update_hist`` of ``key`` (empty if none)."""
        with self._lock:
            prev = self._state.get(key)
            return prev[1].bounds if prev is not None and isinstance(prev[1], _HistState) else ()

    def update_hist_columns(
        self, key: Key, bounds: tuple[float, ...], sources: Mapping[Key, tuple[list[float], float]]
    ) -> tuple[list[float], float]:
        """``update_hist`` with each source's bucket values given as a list aligned with ``bounds``.

        The state is kept as columns aligned with ``bounds``. When every source's buckets grew
        or stayed (the common case) the histogram is folded with a few whole-column operations
        (the same additions in the same order as bucket by bucket); otherwise source by source
        and bucket by bucket.
        """
        with self._lock:
            rnd = self._round
            prev = self._state.get(key)
            st = prev[1] if prev is not None and isinstance(prev[1], _HistState) else _HistState()
            self._state[key] = (0.0, st, rnd)
            if st.bounds != bounds:
                st.relayout(bounds)
            st.round = rnd
            ids, lasts = st.ids, st.lasts
            idx: list[int] = []
            for sid in sources:
                i = ids.get(sid)
                if i is None:
                    i = ids[sid] = len(ids)
                    lasts.append([_INF] * len(bounds))
                idx.append(i)
            st.totals = self._fold_columns(
                st.totals, lasts, list(zip(idx, [v for v, _ in sources.values()], strict=True))
            )
            entry = st.sum
            if entry is None:
                entry = st.sum = [0.0, [], rnd]
            total, last = entry[0], entry[1]
            if len(last) < len(ids):
                last.extend([_INF] * (len(ids) - len(last)))
            for i, (_, value) in zip(idx, sources.values(), strict=True):
                if not 0.0 <= value < _INF:
                    continue
                before = last[i]
                grown_sum = total + (value if value < before else value - before)
                if grown_sum == _INF:
                    continue
                total = grown_sum
                last[i] = value
            entry[0] = total
            entry[2] = rnd
            return list(st.totals), total

    @staticmethod
    def _fold_columns(
        totals: list[float], lasts: list[list[float]], columns: list[tuple[int, list[float]]]
    ) -> list[float]:
        """The bucket totals after adding each (source position, values) in turn; updates ``lasts``."""
        grew: list[tuple[int, list[float]]] = []
        chain: Iterable[float] = totals
        for i, values in columns:
            last = lasts[i]
            if values == last:  # unchanged: nothing to add
                continue
            deltas = list(map(_sub, values, last))
            if not min(deltas) >= 0.0:  # a reset or a bad value: bucket by bucket
                break
            grew.append((i, values))
            chain = map(_add, chain, deltas)  # total + (value - last), source after source
        else:
            grown = list(chain)
            if math.isfinite(sum(grown)):  # no NaN or infinite value, no overflow
                for i, values in grew:
                    lasts[i] = values
                return grown
        totals = list(totals)
        for i, values in columns:
            last = lasts[i]
            for j, value in enumerate(values):
                if not 0.0 <= value < _INF:  # NaN, negative or infinite: counter_reject_reason
                    continue
                before = last[j]
                total = totals[j] + (value if value < before else value - before)
                if total == _INF:  # the sum overflowed
                    continue
                totals[j] = total
                last[j] = value
        return totals

    def _update(self, key: Key, sources: Mapping[Key, float], forget_missing: bool = False) -> float:
        prev = self._state.get(key)
        last: dict[Key, float]
        if prev is None or isinstance(prev[1], _HistState):
            total, last = 0.0, {}
        else:
            total, last = prev[0], prev[1]
        if forget_missing and last:
            last = {sid: v for sid, v in last.items() if sid in sources}
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

    def held(self, key: Key) -> float | None:
        """The last exported value of ``key`` (None if unknown), without updating it."""
        with self._lock:
            prev = self._state.get(key)
            return None if prev is None else prev[0]

    def __len__(self) -> int:
        """Folded values held: one per counter, one per bucket and sum of a histogram."""
        n = 0
        for v in self._state.values():
            n += v[1].size() if isinstance(v[1], _HistState) else 1
        return n


class _HistState:
    """The folding state of one histogram.

    The buckets of the last update are columns aligned with its ``bounds``: the exported
    total of each bucket, and for each source (by position in ``ids``) its last value of each
    bucket (+Inf: none yet, so that the first value counts in full, like a restart). Buckets absent from the last update are ``parked`` by bound
    (total, last value of each source, round last updated) until they come back or are pruned.
    ``sum`` is [exported total, last value of each source (+Inf: none yet), round last updated].
    """

    __slots__ = ("bounds", "ids", "lasts", "parked", "round", "sum", "totals")

    def __init__(self) -> None:
        self.ids: dict[Key, int] = {}
        self.bounds: tuple[float, ...] = ()
        self.totals: list[float] = []
        self.lasts: list[list[float]] = []  # per source position, aligned with ``bounds``
        self.round = 0
        self.parked: dict[float, tuple[float, list[float], int]] = {}
        self.sum: list[Any] | None = None

    def relayout(self, bounds: tuple[float, ...]) -> None:
        """Align the columns with ``bounds``: park the buckets leaving, bring back (or start) the others."""
        parked = self.parked
        for j, le in enumerate(self.bounds):
            parked[le] = (self.totals[j], [last[j] for last in self.lasts], self.round)
        width = len(self.ids)
        columns = []
        for le in bounds:
            entry = parked.pop(le, None)
            if entry is None:
                columns.append((0.0, [_INF] * width))
            else:
                columns.append((entry[0], entry[1] + [_INF] * (width - len(entry[1]))))
        self.bounds = bounds
        self.totals = [total for total, _ in columns]
        self.lasts = [[by_source[i] for _, by_source in columns] for i in range(width)]

    def prune(self, cutoff: int) -> None:
        """Forget the buckets (and sum) not updated since round ``cutoff``."""
        self.parked = {le: e for le, e in self.parked.items() if e[2] >= cutoff}
        if self.round < cutoff:
            self.bounds, self.totals = (), []
            self.lasts = [[] for _ in self.lasts]
        if self.sum is not None and self.sum[2] < cutoff:
            self.sum = None

    def size(self) -> int:
        return len(self.parked) + len(self.bounds) + (self.sum is not None)


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
