"""Collectors, and the one place that builds them from a ``Config``.

Every collector module exposes ``build(config) -> list[Collector]``. Constructors do no
I/O and start no threads (that happens lazily on the first ``collect``), so building is
cheap and a reload can keep the running instance of a collector whose config did not
change (``key`` and ``config`` equal).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..config import Config
from ..scrape import Collector
from . import pricing

Builder = Callable[[Config], list[Collector]]


def builders() -> list[Builder]:
    """Builders of every collector area, in exposition order."""
    out: list[Builder] = [pricing.build]
    for module in ("inference", "gpu", "queues"):
        try:
            mod = __import__(f"{__name__}.{module}", fromlist=["build"])
        except ModuleNotFoundError as exc:  # area not written yet
            if exc.name and exc.name.startswith(__name__):
                continue
            raise
        if hasattr(mod, "build"):
            out.append(mod.build)
    return out


def build_collectors(config: Config, previous: Sequence[Collector] = ()) -> list[Collector]:
    """Collectors for ``config``, reusing instances from ``previous`` whose config is unchanged."""
    old = {c.key: c for c in previous}
    result: list[Collector] = []
    for build in builders():
        for c in build(config):
            prior = old.get(c.key)
            if prior is not None and getattr(prior, "config", None) == getattr(c, "config", object()):
                result.append(prior)
            else:
                result.append(c)
    return result
