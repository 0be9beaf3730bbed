"""Samples of one collection, checked against the catalog and rendered as metric families.

Collectors never build ``prometheus_client`` families themselves: they add samples to a
``MetricSet``. That keeps three promises in one place: only catalog metrics are emitted,
every series of a metric carries exactly the catalog's labels, and a series added twice
is exported once (last value wins). (Target names cannot hold credentials: config validation
refuses them, so no label carries one.)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .catalog import CATALOG, Catalog, MetricSpec

if TYPE_CHECKING:
    from prometheus_client.core import Metric

LabelKey = tuple[tuple[str, str], ...]


class CatalogViolation(ValueError):
    """A collector tried to emit something the catalog does not declare."""


@dataclass(frozen=True)
class Histogram:
    """A cumulative histogram: ascending upper ``bounds`` ending with +Inf, the cumulative
    ``counts`` aligned with them, and the ``sum``."""

    bounds: tuple[float, ...]
    counts: tuple[float, ...]
    sum: float

    @property
    def buckets(self) -> tuple[tuple[float, float], ...]:
        """(upper bound, cumulative count) pairs."""
        return tuple(zip(self.bounds, self.counts, strict=True))

    @property
    def count(self) -> float:
        return self.counts[-1] if self.counts else 0.0

    @classmethod
    def of(cls, buckets: Sequence[tuple[float, float]], sum_value: float) -> Histogram:
        """Sort by bound and make sure a +Inf bucket ends the list."""
        ordered = sorted(buckets, key=_bound)
        if not ordered or not math.isinf(ordered[-1][0]):
            raise ValueError("histogram needs a +Inf bucket")
        return cls(tuple([float(le) for le, _ in ordered]), tuple([float(c) for _, c in ordered]), float(sum_value))

    @classmethod
    def of_columns(cls, bounds: Sequence[float], counts: Sequence[float], sum_value: float) -> Histogram:
        """From floats usually in order already: ``bounds`` ascending up to +Inf, ``counts`` aligned.

        Bounds out of order (a NaN bound, say) are sorted as ``of`` sorts them.
        """
        if len(counts) != len(bounds):
            raise ValueError("a histogram needs one count per bound")
        bounds, counts = tuple(bounds), tuple(counts)
        if bounds and bounds[-1] == math.inf and all(map(operator.le, bounds, bounds[1:])):
            return cls(bounds, counts, sum_value)
        return cls.of(list(zip(bounds, counts, strict=True)), sum_value)


_bound = _name = operator.itemgetter(0)  # of a (bound, count) bucket, of a (name, value) label pair


class MetricSet:
    """A bag of samples keyed by catalog name and label set."""

    def __init__(self, catalog: Catalog = CATALOG) -> None:
        self._catalog = catalog
        self._series: dict[str, dict[LabelKey, float | Histogram]] = {}

    # -- adding --------------------------------------------------------------------
    def add(self, name: str, value: float | None, labels: Mapping[str, str] | None = None) -> None:
        """Add a gauge or counter sample. ``None`` values are skipped (metric unknown)."""
        if value is None:
            return
        spec = self._spec(name)
        if spec.type == "histogram":
            raise CatalogViolation(f"{name} is a histogram: use add_histogram")
        self._series.setdefault(name, {})[self._key(spec, labels or {})] = float(value)

    def add_histogram(
        self,
        name: str,
        labels: Mapping[str, str] | None,
        buckets: Sequence[tuple[float, float]],
        sum_value: float,
    ) -> None:
        """Add a histogram from cumulative (le, count) pairs; a +Inf bucket is required."""
        spec = self._spec(name)
        if spec.type != "histogram":
            raise CatalogViolation(f"{name} is a {spec.type}, not a histogram")
        self._series.setdefault(name, {})[self._key(spec, labels or {})] = Histogram.of(buckets, sum_value)

    def add_key(self, name: str, key: LabelKey, value: float) -> None:
        """``add`` with the labels as (name, value) pairs, usually in the catalog's order already."""
        spec = self._spec(name)
        if spec.type == "histogram":
            raise CatalogViolation(f"{name} is a histogram: use add_histogram")
        self._series.setdefault(name, {})[self._key_of_pairs(spec, key)] = float(value)

    def add_histogram_columns(
        self, name: str, key: LabelKey, bounds: Sequence[float], counts: Sequence[float], sum_value: float
    ) -> None:
        """``add_histogram`` from ascending ``bounds`` (ending with +Inf) and the counts aligned with
        them, with the labels as (name, value) pairs: no sorting, no pairs built."""
        spec = self._spec(name)
        if spec.type != "histogram":
            raise CatalogViolation(f"{name} is a {spec.type}, not a histogram")
        self._series.setdefault(name, {})[self._key_of_pairs(spec, key)] = Histogram.of_columns(
            bounds, counts, sum_value
        )

    def merge(self, other: MetricSet) -> None:
        """Copy every series of ``other`` into this set (other wins on collision)."""
        for name, series in other._series.items():
            self._series.setdefault(name, {}).update(series)

    def limit(self, max_series: int) -> int:
        """Keep the first ``max_series`` series (in the order they were added); returns how many were dropped."""
        kept, dropped = 0, 0
        for name in list(self._series):
            series = self._series[name]
            room = max(0, max_series - kept)
            if len(series) > room:
                dropped += len(series) - room
                self._series[name] = dict(list(series.items())[:room])
            kept += len(self._series[name])
        return dropped

    # -- reading (tests, rules) ------------------------------------------------------
    def get(self, name: str, labels: Mapping[str, str] | None = None) -> float | Histogram | None:
        spec = self._spec(name)
        return self._series.get(name, {}).get(self._key(spec, labels or {}))

    def get_key(self, name: str, key: LabelKey) -> float | Histogram | None:
        """``get`` with the labels as (name, value) pairs."""
        return self._series.get(name, {}).get(self._key_of_pairs(self._spec(name), key))

    def series(self, name: str) -> dict[LabelKey, float | Histogram]:
        return dict(self._series.get(name, {}))

    def names(self) -> list[str]:
        return [n for n, s in self._series.items() if s]

    def __len__(self) -> int:
        return sum(len(s) for s in self._series.values())

    def has(self, name: str, **labels: str) -> bool:
        """True if any series of ``name`` matches the given label subset."""
        for key in self._series.get(name, {}):
            d = dict(key)
            if all(d.get(k) == v for k, v in labels.items()):
                return True
        return False

    def items(self) -> Iterator[tuple[MetricSpec, dict[LabelKey, float | Histogram]]]:
        """(spec, series) of every metric that has series, in catalog order."""
        series_of = self._series
        for spec in self._catalog:
            series = series_of.get(spec.name)
            if series:
                yield spec, series

    # -- rendering -------------------------------------------------------------------
    def families(self) -> Iterator[Metric]:
        """prometheus_client families, in catalog order (``exposition.render`` is the fast path)."""
        for spec, series in self.items():
            yield _family(spec, series)

    def collect(self) -> Iterator[Metric]:
        """Collector protocol, so a MetricSet can be handed to ``generate_latest``."""
        return self.families()

    # -- internals -------------------------------------------------------------------
    def _spec(self, name: str) -> MetricSpec:
        try:
            return self._catalog[name]
        except KeyError:
            raise CatalogViolation(f"metric {name!r} is not in the catalog") from None

    @classmethod
    def _key_of_pairs(cls, spec: MetricSpec, key: LabelKey) -> LabelKey:
        """``key`` itself when it holds exactly the catalog's labels in its order, else ``_key``.

        The values must be strings, as ``LabelKey`` says (``_key`` converts a mapping's values).
        """
        if tuple(map(_name, key)) == spec.labels:
            return key
        return cls._key(spec, dict(key))

    @staticmethod
    def _key(spec: MetricSpec, labels: Mapping[str, str]) -> LabelKey:
        missing = [n for n in spec.labels if n not in labels]
        if missing:
            raise CatalogViolation(f"{spec.name}: missing labels {missing}")
        if len(labels) != len(spec.labels):
            extra = sorted(set(labels) - set(spec.labels))
            if not spec.extra_labels:
                raise CatalogViolation(f"{spec.name}: labels {extra} are not in the catalog")
            return tuple((n, str(labels[n])) for n in (*spec.labels, *extra))
        return tuple((n, str(labels[n])) for n in spec.labels)


def _family(spec: MetricSpec, series: Mapping[LabelKey, float | Histogram]) -> Metric:
    from prometheus_client.core import Metric

    family_name = spec.name.removesuffix("_total") if spec.type == "counter" else spec.name
    fam = Metric(family_name, spec.help, spec.type)
    for key, value in series.items():
        labels = dict(key)
        if isinstance(value, Histogram):
            for le, count in zip(value.bounds, value.counts, strict=True):
                fam.add_sample(spec.name + "_bucket", {**labels, "le": _le(le)}, count)
            fam.add_sample(spec.name + "_count", labels, value.count)
            fam.add_sample(spec.name + "_sum", labels, value.sum)
        else:
            fam.add_sample(spec.name, labels, value)
    return fam


def _le(bound: float) -> str:
    if math.isinf(bound):
        return "+Inf"
    return repr(float(bound))
