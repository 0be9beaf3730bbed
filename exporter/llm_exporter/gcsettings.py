"""Garbage-collector settings for the serving process.

A scrape of a large target allocates hundreds of thousands of short-lived containers
(label tuples, dicts of series, lists of bucket values). Nearly all are freed by reference
counting, but CPython's default first-generation threshold (700 net allocations) still runs
a collection every few hundred of them, and the older generations' collections walk every
live object of the process. At 116k upstream samples that was about 30 collections and 20 ms
of CPU per scrape (`bench/bench_scrape.py`, section 2). A first-generation threshold of
20,000 lets a scrape's garbage go by reference counting alone, and freezing what exists once
the exporter is ready (modules, config, caches) keeps it out of every later collection.
Cyclic garbage is still collected: at most 20,000 net allocations later.
"""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 10, 10)


def tune() -> None:
    """Apply the thresholds and freeze the objects alive now (call once the process is set up;
    no collection first: it would cost the start more than the little garbage frozen with it)."""
    gc.set_threshold(*THRESHOLDS)
    gc.freeze()
