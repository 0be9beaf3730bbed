"""Fuzz target for the upstream parser (hypothesis, bounded: a few hundred examples per property).

Whatever the bytes, ``promtext.Parser`` returns a snapshot or raises ``PromTextError``
(never another exception), the way the body is cut into chunks changes nothing, and
no line longer than the limit is accepted.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llm_exporter.promtext import Parser, PromTextError, Snapshot

WANT = ("vllm:num_requests_running", "vllm:prompt_tokens_total")
HIST = ("vllm:e2e_request_latency_seconds",)

NAME = st.sampled_from(
    ["vllm:num_requests_running", "vllm_prompt_tokens_total", "vllm:e2e_request_latency_seconds_bucket", "other_x"]
)
LABEL_VALUE = st.text(alphabet=st.sampled_from('ab\\"\n{}=, le+Inf0.5'), max_size=8)
VALUE = st.one_of(
    st.floats(allow_nan=True).map(repr),
    st.sampled_from(["+Inf", "-Inf", "NaN", "1e3", "x", "", "1 1700000000", '2 # {a="b"} 1']),
)


@st.composite
def exposition_line(draw: st.DrawFn) -> str:
    """A line that is often valid Prometheus text and often slightly broken."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from(["# HELP x y", "# TYPE vllm:num_requests_running gauge", "# EOF", "", "\r"]))
    if kind == 1:
        return draw(st.text(max_size=40))
    labels = draw(st.lists(st.tuples(st.sampled_from(["model_name", "le", "engine", "a"]), LABEL_VALUE), max_size=3))
    block = "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels or kind == 2 else ""
    return f"{draw(NAME)}{block} {draw(VALUE)}"


BODY = st.one_of(
    st.binary(max_size=400),
    st.lists(exposition_line(), max_size=25).map(lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass")),
)


def _run(body: bytes, cuts: list[int], max_line: int = 200, max_held: int = 0) -> Snapshot | str:
    """Parse ``body`` fed in pieces cut at ``cuts``: streamed (``max_held=0``) or held whole and read at close."""
    parser = Parser(WANT, HIST, max_samples=50, max_bytes=10_000, max_line=max_line, max_held=max_held)
    try:
        prev = 0
        for cut in [*sorted(c % (len(body) + 1) for c in cuts), len(body)]:
            parser.feed(body[prev:cut])
            prev = cut
        return parser.close()
    except PromTextError:
        return "error"


def _same(a: Snapshot | str, b: Snapshot | str) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return repr(snapshot_values(a)) == repr(snapshot_values(b))


def snapshot_values(s: Snapshot) -> tuple:
    """What a snapshot holds, NaN as "nan" so that equal snapshots compare equal."""

    def f(v: float | None) -> object:
        return "nan" if v is not None and math.isnan(v) else v

    scalars = {k: {lk: f(v) for lk, v in d.items()} for k, d in s.scalars.items()}
    hists = {
        k: {lk: ({b: f(c) for b, c in h.buckets.items()}, f(h.sum), f(h.count)) for lk, h in d.items()}
        for k, d in s.histograms.items()
    }
    return scalars, hists, s.samples, s.duplicates, s.openmetrics_eof


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODY, st.lists(st.integers(min_value=0, max_value=10_000), max_size=6))
def test_parser_never_crashes_and_chunking_changes_nothing(body: bytes, cuts: list[int]) -> None:
    whole = _run(body, [])
    assert _same(whole, _run(body, cuts))
    assert _same(whole, _run(body, list(range(len(body)))))  # one byte at a time
    assert _same(whole, _run(body, cuts, max_held=10_000))  # held whole, read at close


@settings(max_examples=60, deadline=None, database=None)
@given(st.integers(min_value=201, max_value=5000), st.booleans(), st.lists(st.integers(0, 10_000), max_size=4))
def test_line_longer_than_the_limit_is_an_error(length: int, newline: bool, cuts: list[int]) -> None:
    body = b"vllm:num_requests_running 1\n" + b"a" * length + (b"\n" if newline else b"")
    assert _run(body, cuts, max_line=200) == "error"
    assert _run(body, cuts, max_line=200, max_held=10_000) == "error"
    assert not isinstance(_run(b"vllm:num_requests_running 1\n" + b"a" * 150 + b" 1\n", cuts, max_line=200), str)
