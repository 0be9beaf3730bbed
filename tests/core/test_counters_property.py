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
