"""What the upstream parser produces (``Snapshot``) and keeps between scrapes (``ParseCache``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .promlabels import LabelKey

if TYPE_CHECKING:
    from .promtemplate import Template


class BucketColumns(Mapping[float, float]):
    """Cumulative bucket values aligned with their bounds, as a template reads them: a
    read-only mapping by bound that builds no dict (the normaliser takes the columns)."""

    __slots__ = ("bounds", "counts")

    def __init__(self, bounds: tuple[float, ...], counts: list[float]) -> None:
        self.bounds = bounds
        self.counts = counts

    def __getitem__(self, bound: float) -> float:
        try:
            return self.counts[self.bounds.index(bound)]
        except ValueError:
            raise KeyError(bound) from None

    def __contains__(self, bound: object) -> bool:
        return bound in self.bounds

    def __iter__(self) -> Iterator[float]:
        return iter(self.bounds)

    def __len__(self) -> int:
        return len(self.bounds)

    def __repr__(self) -> str:  # as the dict of the same buckets: a template is checked by repr
        return repr(dict(zip(self.bounds, self.counts, strict=True)))


@dataclass
class HistSeries:
    """One histogram series as read: cumulative buckets by bound, sum and count.

    The line parsers fill a dict; a template gives ``BucketColumns``.
    """

    buckets: Mapping[float, float] = field(default_factory=dict)
    sum: float | None = None
    count: float | None = None


@dataclass
class Snapshot:
    """What one body held of the wanted families (keys are canonical names)."""

    scalars: dict[str, dict[LabelKey, float]] = field(default_factory=dict)
    histograms: dict[str, dict[LabelKey, HistSeries]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    samples: int = 0
    duplicates: int = 0
    skipped: int = 0  # samples of a wanted family past ``max_family_series`` (not parsed)
    openmetrics_eof: bool = False


class ParseCache:
    """Label blocks already split, kept from one scrape of a target to the next.

    A target exposes the same series scrape after scrape, so the text between ``{`` and
    ``}`` of a sample line maps to the same label pairs (and bucket bound) every time;
    caching that turns the per-line work into a slice, a dict lookup and a ``float``.
    Bounded: past ``max_entries`` a map is cleared and refilled.
    """

    def __init__(self, max_entries: int = 65536) -> None:
        self.max_entries = max_entries
        self.plain: dict[str, LabelKey] = {}
        self.bucket: dict[str, tuple[LabelKey, float]] = {}
        self.keys: dict[LabelKey, LabelKey] = {}  # the label sets of ``bucket``, one object each
        # The shape of the last body read by the careful parser; the template of that shape,
        # made once a second body had it (``promtemplate``); the (shape, parser settings) it
        # was made (or found unlearnable) for: a template serves only parsers of those settings.
        self.last_shape: int | None = None
        self.template: Template | None = None
        self.tried: tuple[object, ...] = ()
        self.template_reads = 0  # bodies read by a template (for tests and the curious)

    def __len__(self) -> int:
        return len(self.plain) + len(self.bucket)
