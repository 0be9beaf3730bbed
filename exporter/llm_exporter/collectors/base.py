"""``BaseCollector``: the one way collectors are written.

A collector subclasses it, sets the class attribute ``name`` (the ``collector`` label), calls
``super().__init__(config, key=..., target=...)`` from its constructor and implements
``collect``. ``fallback`` and ``close`` default to nothing; override them when the collector
keeps state worth serving on a missed deadline, or holds threads or connections.
The contract itself is ``scrape.Collector``.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from ..metricset import MetricSet
from ..scrape import Deadline

ConfigT = TypeVar("ConfigT")


class BaseCollector(Generic[ConfigT]):
    """Fields and no-op defaults of the ``scrape.Collector`` contract; ``ConfigT`` is the config's type."""

    name: str = ""

    def __init__(self, config: ConfigT, *, key: str, target: str | None = None) -> None:
        self.config = config
        self.key = key
        self.target = target

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        raise NotImplementedError

    def fallback(self, out: MetricSet) -> None:
        """Nothing to serve when a read misses the deadline."""

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.key!r})"
