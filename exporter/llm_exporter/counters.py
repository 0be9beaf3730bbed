"""Counters that stay monotonic when they are sums of sources that restart or go away.

An exported counter often adds up several upstream counters: one per vLLM data-parallel
engine, one per RQ worker. When one source restarts (back to 0) or disappears, the plain sum
drops, and Prometheus reads the drop as a reset, so ``rate()`` shows a false spike.
``CounterFolder`` keeps the exported value monotonic instead.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping


class CounterFolder:
    """Keeps folded counters monotonic across resets of the upstream series they add up.

    For each exported value: the first time it is the sum of its sources; afterwards it
    grows by each source's increase, and a source that went down (restarted) contributes
    its new value. Entries of series not seen for ``keep`` updates are forgotten.
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
        with self._lock:
            prev = self._state.get(key)
            if prev is None:
                total = sum(sources.values())
                last = dict(sources)
            else:
                total, last, _ = prev
                last = dict(last)
                for sid, value in sources.items():
                    before = last.get(sid)
                    if before is None or value < before:
                        total += value
                    else:
                        total += value - before
                    last[sid] = value
            self._state[key] = (total, last, self._round)
            return total

    def __len__(self) -> int:
        return len(self._state)
