"""The histogram half of the normaliser: the series of one exported histogram, read from
several upstream sources (vLLM data-parallel engines, say), checked, folded and added.

Bucket values travel as columns aligned with the ascending bounds; the bounds are usually
each source's own, in its order, and the same as in the last scrape, so that checking them
costs a comparison and folding them a few whole-column operations (``CounterFolder``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping

from ...counters import CounterFolder, Key, counter_reject_reason
from ...metricset import MetricSet
from ...promsnap import BucketColumns
from ...promtext import HistSeries, LabelKey

_INF = math.inf

SourceId = tuple[str, str, LabelKey]  # (catalog metric, upstream family, upstream labels)


def emit_histogram(
    metric: str,
    labels: LabelKey,
    parts: list[tuple[SourceId, HistSeries, float]],
    out: MetricSet,
    folder: CounterFolder,
    reject: Callable[[str, LabelKey, str], None],
    warn: Callable[[str], None],
) -> None:
    """Fold the ``parts`` (source, series, unit scale) of one exported histogram and add it to ``out``.

    A series without a +Inf bucket is skipped (``warn``), one with a negative, NaN or infinite
    bucket, count or sum is dropped (``reject``: family, labels, reason); the others contribute
    the bounds they all have, each bucket and the sum folded by ``folder``; bounds are scaled by
    the first usable source's scale.
    """
    # (source, buckets, their bounds and values in the source's order, scaled sum, scale) of the usable sources
    usable: list[tuple[SourceId, Mapping[float, float], tuple[float, ...], list[float], float, float]] = []
    for sid, hs, scale in parts:
        buckets = hs.buckets
        if isinstance(buckets, BucketColumns):  # a template's read: the columns as they are
            keys, values = buckets.bounds, buckets.counts.copy()
        else:
            keys, values = tuple(buckets), list(buckets.values())
        if not keys or (keys[-1] != _INF and _INF not in keys):  # +Inf is usually the last bound
            warn(f"{sid[1]}: histogram series without a +Inf bucket skipped")
            continue
        count, total = hs.count, hs.sum
        # The fast test that nothing is negative, NaN or infinite (a NaN can fool min() but not
        # sum(); an infinite value makes the sum infinite); the slow one names the reason.
        if not (
            min(values) >= 0.0
            and math.isfinite(sum(values))
            and (count is None or 0.0 <= count < _INF)
            and (total is None or 0.0 <= total < _INF)
        ):
            why = _hist_reject_reason(hs)
            if why is not None:
                reject(sid[1], sid[2], why)
                continue
        usable.append((sid, buckets, keys, values, (total or 0.0) * scale, scale))
    if not usable:
        return
    # The bounds every usable source has, ascending: usually each source's own, in its order,
    # and the same as in the last scrape (then known to be ascending).
    hkey = (metric, labels, "hist")
    first = usable[0][2]
    if all([u[2] == first for u in usable]):
        last = folder.hist_bounds(hkey)
        if first == last or all(map(operator.lt, first, first[1:])):
            ordered = last if first == last else first
            columns: dict[Key, tuple[list[float], float]] = {sid: (v, total) for sid, _, _, v, total, _ in usable}
            _add_hist(metric, labels, ordered, columns, usable[0][5], out, folder)
            return
    ordered = tuple(sorted(set(first).intersection(*(u[2] for u in usable))))
    if ordered:
        columns = {
            sid: (values if keys == ordered else list(map(buckets.__getitem__, ordered)), total)
            for sid, buckets, keys, values, total, _ in usable
        }
        _add_hist(metric, labels, ordered, columns, usable[0][5], out, folder)


def _add_hist(
    metric: str,
    labels: LabelKey,
    ordered: tuple[float, ...],
    columns: Mapping[Key, tuple[list[float], float]],
    scale: float,
    out: MetricSet,
    folder: CounterFolder,
) -> None:
    """Fold the sources' ``columns`` (bucket values aligned with the ascending ``ordered`` bounds)
    and add the histogram, bounds scaled by ``scale``."""
    counts, total = folder.update_hist_columns((metric, labels, "hist"), ordered, columns)
    bounds = ordered if scale == 1.0 else tuple([le if le == _INF else le * scale for le in ordered])
    out.add_histogram_columns(metric, labels, bounds, counts, total)


def _hist_reject_reason(hs: HistSeries) -> str | None:
    """Why a histogram series read from upstream cannot be used (a bad bucket, sum or count)."""
    for value in (*hs.buckets.values(), hs.count, hs.sum):
        if value is not None and not 0.0 <= value < math.inf:  # the fast test, then the reason
            return counter_reject_reason(value)
    return None
