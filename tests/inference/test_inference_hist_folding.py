"""Histograms folded over data-parallel engines, scrape after scrape, against the plain rule.

The rule (``mapping`` docstring): a source with any bad bucket, count or sum is dropped for the
scrape (and counted as rejected); the others contribute the bounds they all have; each bucket
and the sum are folded like a counter (``CounterFolder.update``, one per bucket). The
normaliser takes shortcuts (columns, whole-column folding, the last scrape's bounds); whatever
the engines write (bounds in any order, bounds that change, resets, NaN, negative, infinite
values), it must export exactly what the rule gives.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from llm_exporter.collectors.inference.mapping import normalise
from llm_exporter.collectors.inference.vllm import VLLM
from llm_exporter.counters import CounterFolder, counter_reject_reason
from llm_exporter.exposition import render
from llm_exporter.metricset import Histogram, MetricSet
from llm_exporter.promsnap import BucketColumns
from llm_exporter.promtext import ParseCache, Parser, parse

FAMILY = "vllm:time_to_first_token_seconds"
METRIC = "llm_time_to_first_token_seconds"
BOUNDS = (0.1, 0.5, 1.0, math.inf)
VALUE = st.one_of(
    st.integers(min_value=0, max_value=50).map(float),
    st.sampled_from([math.nan, math.inf, -1.0, 1e308]),
)
ENGINE = st.tuples(
    st.lists(st.sampled_from(BOUNDS[:-1]), unique=True).flatmap(lambda b: st.permutations([*b, math.inf])),
    st.lists(st.integers(min_value=0, max_value=30).map(float), min_size=4, max_size=4),  # cumulative steps
    st.one_of(st.none(), st.tuples(st.integers(min_value=0, max_value=3), VALUE)),  # one odd value (or none)
    st.integers(min_value=0, max_value=100).map(float),  # sum
)
ROUND = st.lists(ENGINE, min_size=1, max_size=3)


def _body(engines: list[tuple[list[float], list[float], tuple[int, float] | None, float]]) -> tuple[bytes, list]:
    """The body of one scrape, and per engine its buckets as written (bound -> value), and sum."""
    lines = [f"# TYPE {FAMILY} histogram"]
    seen = []
    for e, (bounds, steps, odd, total) in enumerate(engines):
        labels = f'engine="{e}",model_name="m"'
        values = {}
        for le in bounds:
            rank = sorted(bounds).index(le)
            values[le] = sum(steps[: rank + 1])
        if odd is not None:
            values[sorted(bounds)[min(odd[0], len(bounds) - 1)]] = odd[1]
        for le, v in values.items():
            text = "+Inf" if le == math.inf else repr(le)
            lines.append(f'{FAMILY}_bucket{{{labels},le="{text}"}} {v!r}'.replace("nan", "NaN").replace("inf}", "Inf}"))
        lines.append(f"{FAMILY}_count{{{labels}}} {values[math.inf]!r}".replace("nan", "NaN"))
        lines.append(f"{FAMILY}_sum{{{labels}}} {total!r}")
        seen.append((values, total))
    return ("\n".join(lines) + "\n").replace(" inf\n", " +Inf\n").encode(), seen


def _expected(rule: CounterFolder, seen: list) -> tuple[Histogram | None, int]:
    """The histogram the rule exports, and how many engines it rejects."""
    rule.begin()
    usable = []
    for e, (values, total) in enumerate(seen):
        bad = [v for v in [*values.values(), values[math.inf], total] if counter_reject_reason(v)]
        if not bad:
            usable.append((e, values, total))
    if not usable:
        return None, len(seen)
    bounds = sorted(set.intersection(*(set(v) for _, v, _ in usable)))
    counts = [rule.update(("b", le), {(e,): v[le] for e, v, _ in usable}) for le in bounds]
    total = rule.update(("sum",), {(e,): t for e, _, t in usable})
    return Histogram(tuple(bounds), tuple(counts), total), len(seen) - len(usable)


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(ROUND, min_size=1, max_size=8))
def test_folded_histogram_equals_bucket_by_bucket_folding(rounds: list) -> None:
    folder, rule = CounterFolder(), CounterFolder()
    for engines in rounds:
        body, seen = _body(engines)
        snap = parse(body, (), (FAMILY,))
        out = MetricSet()
        res = normalise(VLLM, snap, out, "t", "unknown", folder)
        got = out.get(METRIC, {"target": "t", "model": "m"})
        want, rejected = _expected(rule, seen)
        assert got == want, (body.decode(), res.rejected)
        assert len(res.rejected) == rejected


def test_engines_with_different_bounds_share_the_common_ones() -> None:
    body = (
        f"# TYPE {FAMILY} histogram\n"
        f'{FAMILY}_bucket{{engine="0",model_name="m",le="1.0"}} 2\n'
        f'{FAMILY}_bucket{{engine="0",model_name="m",le="0.5"}} 1\n'  # out of order
        f'{FAMILY}_bucket{{engine="0",model_name="m",le="+Inf"}} 3\n'
        f'{FAMILY}_sum{{engine="0",model_name="m"}} 2.5\n'
        f'{FAMILY}_bucket{{engine="1",model_name="m",le="0.5"}} 4\n'
        f'{FAMILY}_bucket{{engine="1",model_name="m",le="+Inf"}} 5\n'
        f'{FAMILY}_sum{{engine="1",model_name="m"}} 1.5\n'
    ).encode()
    out = MetricSet()
    normalise(VLLM, parse(body, (), (FAMILY,)), out, "t", "unknown", CounterFolder())
    h = out.get(METRIC, {"target": "t", "model": "m"})
    assert isinstance(h, Histogram)
    assert (h.bounds, h.counts, h.sum) == ((0.5, math.inf), (5.0, 8.0), 4.0)


FIXED = st.tuples(
    st.lists(st.integers(min_value=0, max_value=30).map(float), min_size=4, max_size=4),
    st.one_of(st.none(), st.tuples(st.integers(min_value=0, max_value=3), VALUE)),
    st.integers(min_value=0, max_value=100).map(float),
)


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.lists(FIXED, min_size=2, max_size=2), min_size=3, max_size=8))
def test_template_reads_fold_as_the_line_parser_reads(rounds: list) -> None:
    """Bodies of one shape (same engines and bounds, new values: growth, resets, NaN, negative,
    infinite) are read by the target's template after two of them, its buckets coming as
    columns; the normaliser exports exactly what it exports from the line parser's reads."""
    cache = ParseCache()
    templated, careful = CounterFolder(), CounterFolder()
    for engines in rounds:
        body, _ = _body([(list(BOUNDS), steps, odd, total) for steps, odd, total in engines])
        parser = Parser((), (FAMILY,), cache=cache)
        parser.feed(body)
        via_cache = parser.close()
        outs, results = [], []
        for snap, folder in ((via_cache, templated), (parse(body, (), (FAMILY,)), careful)):
            out = MetricSet()
            results.append(normalise(VLLM, snap, out, "t", "unknown", folder).rejected)
            outs.append(render(out))
        assert outs[0] == outs[1], body.decode()
        assert results[0] == results[1]
    assert cache.template_reads == len(rounds) - 2
    assert any(
        isinstance(hs.buckets, BucketColumns) for family in via_cache.histograms.values() for hs in family.values()
    )
