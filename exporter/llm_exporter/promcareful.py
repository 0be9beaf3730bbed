"""The parser's careful path: a sample line whose label block is new, escaped or odd.

``Parser`` (``promtext``) reads most lines through its fast loop; a line it cannot (first
sight of a label block, escapes, timestamps, exemplars) comes here, and a simple label
block read here is remembered in the target's ``ParseCache`` for the fast loop.
"""

from __future__ import annotations

from typing import cast

from .promlabels import LABEL_BLOCK, LabelKey, PromTextError, split_escaped, split_le, split_simple
from .promsnap import HistSeries, ParseCache, Snapshot

# How the parser treats a sample name: (kind, key or base, suffix, base); see ``Parser._classify``.
Classified = tuple[int, str, str, str]


class CarefulPath:
    """The careful half of ``promtext.Parser`` (which sets these attributes)."""

    snap: Snapshot
    cache: ParseCache
    max_family_series: int
    _line_no: int

    # -- the careful path: first sight of a label block, escapes, timestamps ------------
    def _sample_slow(self, hit: Classified, line: str, br: int, end: int) -> None:
        if br < 0:
            pairs: LabelKey = ()
            pos = end
        else:
            pairs, pos, inner = self.labels_at(line, br)
            if inner is not None:
                self._remember(inner, pairs, hit[2] == "bucket" and hit[0] != 1)
        value = self._value(line, pos)
        kind = hit[0]
        if kind in (1, 3):  # a scalar (kind 3: a histogram's _sum/_count also wanted as a scalar)
            series = self.snap.scalars.setdefault(hit[1], {})
            if pairs in series:
                self.snap.duplicates += 1
            elif len(series) >= self.max_family_series:
                self.snap.skipped += 1
            else:
                series[pairs] = value
            if kind == 1:
                return
        base = hit[3] if kind == 3 else hit[1]
        le = None
        if hit[2] == "bucket":
            pairs, le = split_le(pairs, self._line_no)
        self._store_hist(base, hit[2], pairs, le, value)

    def _remember(self, inner: str, pairs: LabelKey, is_bucket: bool) -> None:
        """Cache a simple label block (no escapes) for the fast path of later lines and scrapes."""
        cache = self.cache
        if is_bucket:
            try:
                entry = split_le(pairs, self._line_no)
            except PromTextError:
                return
            if len(cache.bucket) >= cache.max_entries:
                cache.bucket.clear()
                cache.keys.clear()
            # One object per label set, so consecutive buckets of a series compare by identity.
            pairs = cache.keys.setdefault(entry[0], entry[0])
            cache.bucket[inner] = (pairs, entry[1])
        else:
            if len(cache.plain) >= cache.max_entries:
                cache.plain.clear()
            cache.plain[inner] = pairs

    def labels_at(self, line: str, br: int) -> tuple[LabelKey, int, str | None]:
        """Sorted label pairs of the block at ``br``, the position after it, and the block's
        text when it is simple enough to cache (no escapes), else None."""
        close = line.find("}", br)
        if close > 0:
            inner = line[br + 1 : close]
            if "\\" not in inner and inner.count('"') % 2 == 0:
                # no escapes: an even quote count means this '}' is outside quotes
                return split_simple(inner, self._line_no), close + 1, inner
        m = LABEL_BLOCK.match(line, br)
        if m is None:
            raise PromTextError(f"line {self._line_no}: unterminated label set {line[:80]!r}")
        return split_escaped(m.group(1), self._line_no), m.end(), None

    def _value(self, line: str, pos: int) -> float:
        rest = line[pos:].split(None, 1)
        if not rest:
            raise PromTextError(f"line {self._line_no}: sample without a value {line[:80]!r}")
        raw = rest[0]
        try:
            return float(raw)
        except ValueError:
            raise PromTextError(f"line {self._line_no}: bad value {raw[:40]!r}") from None

    def _store_hist(self, base: str, suffix: str, pairs: LabelKey, le: float | None, value: float) -> None:
        series = self.snap.histograms.get(base)
        if series is None:
            series = self.snap.histograms[base] = {}
        hs = series.get(pairs)
        if hs is None:
            if len(series) >= self.max_family_series:
                self.snap.skipped += 1
                return
            hs = series[pairs] = HistSeries()
        if le is not None:
            buckets = cast("dict[float, float]", hs.buckets)  # the line parser's own series
            if le in buckets:
                self.snap.duplicates += 1
            else:
                buckets[le] = value
        elif suffix == "sum":
            if hs.sum is None:
                hs.sum = value
            else:
                self.snap.duplicates += 1
        elif hs.count is None:
            hs.count = value
        else:
            self.snap.duplicates += 1
