"""Collectors, and the one place that builds them from a ``Config``.

Every collector area exposes ``build(config) -> list[Collector]``; every collector
subclasses ``base.BaseCollector`` (the contract is ``scrape.Collector``). Constructors do no
I/O and start no threads (that happens lazily on the first ``collect``), so building is cheap
and a reload can keep the running instance of a collector whose config did not change
(same ``key``, same type and equal ``config``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..config import Config
from ..scrape import Collector
from . import gpu, inference, pricing, queues

Builder = Callable[[Config], list[Collector]]

# Exposition order: engines first, then GPUs, queues and prices.
BUILDERS: tuple[Builder, ...] = (inference.build, gpu.build, queues.build, pricing.build)


def build_collectors(config: Config, previous: Sequence[Collector] = ()) -> list[Collector]:
    """Collectors for ``config``, reusing instances from ``previous`` whose config is unchanged."""
    old = {c.key: c for c in previous}
    result: list[Collector] = []
    for build in BUILDERS:
        for c in build(config):
            prior = old.get(c.key)
            if prior is not None and type(prior) is type(c) and prior.config == c.config:
                result.append(prior)
            else:
                result.append(c)
    return result
