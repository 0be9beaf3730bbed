"""Property-based test of ``CounterFolder``: whatever the sources say, the export is finite and monotonic."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from llm_exporter.counters import CounterFolder

# Arbitrary floats include NaN, +-Inf, negatives, huge values (overflow) and -0.0.
VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=1e6),
    st.integers(min_value=0, max_value=10**6).map(float),
)
ROUND = st.dictionaries(st.sampled_from(["e0", "e1", "e2"]), VALUE, max_size=3)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(ROUND, min_size=1, max_size=30))
def test_folded_counter_is_finite_and_never_decreases(rounds: list[dict[str, float]]) -> None:
    folder = CounterFolder()
    previous = 0.0
    for sources in rounds:
        folder.begin()
        value = folder.update(("k",), {(s,): v for s, v in sources.items()})
        assert math.isfinite(value)
        assert value >= previous
        previous = value


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.floats(min_value=0, max_value=1e9), min_size=1, max_size=20))
def test_valid_non_decreasing_source_is_exported_unchanged(values: list[float]) -> None:
    """Without resets or bad samples the export equals the upstream counter."""
    values = sorted(values)
    folder = CounterFolder()
    for v in values:
        folder.begin()
        assert math.isclose(folder.update(("k",), {("s",): v}), v, rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.one_of(st.floats(min_value=0, max_value=1e6), st.just(math.nan), st.just(math.inf)), max_size=20))
def test_bad_samples_do_not_change_the_export(values: list[float]) -> None:
    """A rejected sample leaves the export where it was; the next valid one continues it."""
    folder = CounterFolder()
    exported = 0.0
    last_valid: float | None = None
    for v in values:
        folder.begin()
        got = folder.update(("k",), {("s",): v})
        if math.isfinite(v):
            if last_valid is None or v < last_valid:
                exported += v
            else:
                exported += v - last_valid
            last_valid = v
        assert math.isclose(got, exported, rel_tol=1e-9, abs_tol=1e-6)


HIST_ROUND = st.tuples(
    st.sampled_from([(0.5, 1.0, math.inf), (1.0, math.inf), (0.5, math.inf), (math.inf,)]),
    st.dictionaries(st.sampled_from(["e0", "e1", "e2"]), st.tuples(VALUE, VALUE, VALUE, VALUE), max_size=3),
)
LE = {0.5: 0, 1.0: 1, math.inf: 2}


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(HIST_ROUND, min_size=1, max_size=25), st.integers(min_value=1, max_value=4))
def test_update_hist_folds_like_one_update_per_bucket(rounds: list[tuple[tuple, dict[str, tuple]]], keep: int) -> None:
    """``update_hist`` (state per histogram) exports exactly what ``update`` per bucket and sum exports,
    also when the set of bounds changes from one round to the next (buckets leaving and coming back)."""
    per_hist, per_bucket = CounterFolder(keep=keep), CounterFolder(keep=keep)
    for bounds, sources in rounds:
        per_hist.begin()
        per_bucket.begin()
        hist = {(s,): ({le: v[i] for le, i in LE.items()}, v[3]) for s, v in sources.items()}
        counts, total = per_hist.update_hist(("h",), bounds, hist)
        expected = [per_bucket.update(("h", le), {(s,): v[LE[le]] for s, v in sources.items()}) for le in bounds]
        assert counts == expected
        assert total == per_bucket.update(("h", "sum"), {(s,): v[3] for s, v in sources.items()})
        assert len(per_hist) == len(per_bucket)


def test_update_hist_skips_a_growth_that_would_overflow() -> None:
    """A source whose buckets all grew but whose increase overflows the total is skipped, bucket by bucket."""
    per_hist, per_bucket = CounterFolder(), CounterFolder()
    bounds = (1.0, math.inf)
    for e0, e1 in [(1e308, 0.0), (1e308, 1.7e308), (1.1e308, 1.7e308), (1.1e308, 1.8e308)]:
        per_hist.begin()
        per_bucket.begin()
        sources = {("e0",): ({1.0: 5.0, math.inf: e0}, 1.0), ("e1",): ({1.0: 6.0, math.inf: e1}, 2.0)}
        counts, _ = per_hist.update_hist(("h",), bounds, sources)
        expected = [per_bucket.update(("h", le), {s: b[le] for s, (b, _) in sources.items()}) for le in bounds]
        assert counts == expected and all(math.isfinite(c) for c in counts)
