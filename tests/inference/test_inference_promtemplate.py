"""Bodies read by their target's template (``promtemplate``) read exactly as the careful parser reads them.

A target's ``ParseCache`` learns the shape of its bodies; a later body of that shape is read
by pouring its values into the learnt layout. Whatever the second body is (new values, bad
values, another shape, timestamps, invalid UTF-8, over-long lines), the result must be what
a fresh careful parse (no cache, streamed) gives: the same snapshot or an error.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llm_exporter.collectors.inference.engines import VLLM
from llm_exporter.promsnap import BucketColumns
from llm_exporter.promtext import ParseCache, Parser, PromTextError, Snapshot
from test_inference_parser_fuzz import HIST, VALUE, WANT, exposition_line, snapshot_values


def _read(
    body: bytes, cache: ParseCache | None, max_held: int = 1 << 20, max_line: int = 200, chunk: int = 7
) -> Snapshot | str:
    """Parse ``body`` fed in ``chunk``-byte pieces (pieces longer than ``max_line`` leave the
    template to check line lengths itself)."""
    parser = Parser(WANT, HIST, max_samples=50, max_bytes=10_000, max_line=max_line, cache=cache, max_held=max_held)
    try:
        for i in range(0, len(body), chunk):
            parser.feed(body[i : i + chunk])
        return parser.close()
    except PromTextError:
        return "error"


def _norm(s: Snapshot | str) -> object:
    return s if isinstance(s, str) else repr((snapshot_values(s), s.types, s.skipped))


def _with_values(lines: list[str], values: list[str]) -> bytes:
    """The same lines with each sample's last token replaced (comments kept)."""
    out = []
    for line, value in zip(lines, values, strict=True):
        head, sep, _ = line.rpartition(" ")
        out.append(f"{head} {value}" if sep and not line.startswith("#") else line)
    return ("\n".join(out) + "\n").encode("utf-8", "surrogatepass")


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(exposition_line(), max_size=25),
    st.data(),
)
def test_a_templated_read_equals_a_fresh_careful_read(lines: list[str], data: st.DataObject) -> None:
    """Learn from two bodies of one shape, then read a third: same result as without the cache."""
    first = _with_values(lines, data.draw(st.lists(VALUE, min_size=len(lines), max_size=len(lines))))
    cache = ParseCache()
    _read(first, cache)
    _read(first, cache)
    third = data.draw(
        st.one_of(
            st.lists(VALUE, min_size=len(lines), max_size=len(lines)).map(lambda v: _with_values(lines, v)),
            st.just(first + b"other_x 1\n"),
            st.just(first.replace(b"1", b"\xff", 1)),
            st.just(first.rstrip(b"\n")),
            st.binary(max_size=200),
        )
    )
    assert _norm(_read(third, cache, chunk=data.draw(st.sampled_from([7, 10_000])))) == _norm(
        _read(third, None, max_held=0)
    )


VLLM_LINES = [
    "# HELP vllm:num_requests_running Running.",
    "# TYPE vllm:num_requests_running gauge",
    'vllm:num_requests_running{model_name="m",engine="0"} {}',
    'vllm:num_requests_running{model_name="m",engine="1"} {}',
    "# TYPE vllm:prompt_tokens_total counter",
    'vllm:prompt_tokens_total{model_name="m",engine="0"} {}',
    'vllm:prompt_tokens_created{model_name="m",engine="0"} {}',
    "# TYPE vllm:e2e_request_latency_seconds histogram",
    'vllm:e2e_request_latency_seconds_bucket{model_name="m",le="0.5"} {}',
    'vllm:e2e_request_latency_seconds_bucket{model_name="m",le="1.0"} {}',
    'vllm:e2e_request_latency_seconds_bucket{model_name="m",le="+Inf"} {}',
    'vllm:e2e_request_latency_seconds_count{model_name="m"} {}',
    'vllm:e2e_request_latency_seconds_sum{model_name="m"} {}',
    'vllm:e2e_request_latency_seconds_bucket{model_name="m",le="+Inf"} {}',  # a duplicate: first kept
]


def _vllm(rng: random.Random, tail: str = "") -> bytes:
    lines = [line.replace("{}", repr(rng.random() * 1000)) if line[0] != "#" else line for line in VLLM_LINES]
    return ("\n".join(lines) + "\n" + tail).encode()


def test_the_template_is_learnt_from_two_bodies_of_one_shape_and_then_used() -> None:
    rng = random.Random(7)
    cache = ParseCache()
    _read(_vllm(rng), cache)
    assert cache.template is None  # one body says nothing about the next
    _read(_vllm(rng), cache)
    assert cache.template is not None
    for _ in range(5):
        body = _vllm(rng)
        before = cache.template_reads
        assert _norm(_read(body, cache)) == _norm(_read(body, None, max_held=0))
        assert cache.template_reads == before + 1
    # Another shape: read carefully, and the old template is dropped.
    body = _vllm(rng, 'vllm:num_requests_running{model_name="n",engine="0"} 3\n')
    before = cache.template_reads
    snap = _read(body, cache)
    assert cache.template_reads == before and cache.template is None
    assert (
        not isinstance(snap, str)
        and snap.scalars["vllm_num_requests_running"][(("engine", "0"), ("model_name", "n"))] == 3
    )


@pytest.mark.parametrize(
    ("tail", "why"),
    [
        ("vllm:num_requests_running 3 1700000000000\n", "a timestamp"),
        (
            'vllm:e2e_request_latency_seconds_bucket{model_name="z",le="2"} 1 # {trace_id="a"} 0.5 1.7e9\n',
            "an exemplar",
        ),
        ('vllm:num_requests_running{model_name="esc\\"aped"}  4\n', "two spaces before the value"),
    ],
)
def test_bodies_whose_last_token_is_not_the_value_get_no_template(tail: str, why: str) -> None:
    rng = random.Random(3)
    cache = ParseCache()
    for _ in range(4):
        body = _vllm(rng, tail)
        assert _norm(_read(body, cache, max_line=1000)) == _norm(_read(body, None, max_held=0, max_line=1000)), why
    assert cache.template_reads == 0, why


def test_a_templated_body_with_a_bad_value_is_the_careful_parsers_error() -> None:
    rng = random.Random(5)
    cache = ParseCache()
    _read(_vllm(rng), cache)
    _read(_vllm(rng), cache)
    bad = _vllm(rng).replace(b"} ", b"} x", 1)
    assert _read(bad, cache) == "error"
    long_value = _vllm(rng).replace(b"} ", b"} " + b"1" * 300, 1)  # a line over max_line=200
    assert _read(long_value, cache) == "error"
    assert _read(long_value, cache, chunk=len(long_value)) == "error"  # one chunk: checked by the template
    unwanted_invalid = _vllm(rng).replace(
        b'_created{model_name="m",engine="0"} ', b'_created{model_name="m",engine="0"} \xff', 1
    )
    assert _read(unwanted_invalid, cache) == "error"
    body = _vllm(rng)
    assert _norm(_read(body, cache)) == _norm(_read(body, None, max_held=0))  # the template is still there
    assert cache.template is not None


def test_parser_settings_are_part_of_the_template() -> None:
    """A cache shared by reads with other wanted families (server: auto) never pours into the wrong layout."""
    rng = random.Random(9)
    cache = ParseCache()
    for _ in range(3):
        _read(_vllm(rng), cache)
    body = _vllm(rng)
    other = Parser(VLLM.scalar_names(), (), cache=cache)
    other.feed(body)
    fresh = Parser(VLLM.scalar_names(), (), max_held=0)
    fresh.feed(body)
    assert _norm(other.close()) == _norm(fresh.close())


def test_bucket_columns_read_as_the_dict_of_the_same_buckets() -> None:
    cols = BucketColumns((0.5, 1.0, math.inf), [1.0, 3.0, 4.0])
    same = {0.5: 1.0, 1.0: 3.0, math.inf: 4.0}
    assert cols == same and same == cols and repr(cols) == repr(same)
    assert (cols[1.0], len(cols), list(cols), list(cols.values())) == (3.0, 3, [0.5, 1.0, math.inf], [1.0, 3.0, 4.0])
    assert math.inf in cols and 2.0 not in cols
    with pytest.raises(KeyError):
        cols[2.0]
    assert cols != {0.5: 1.0, 1.0: 3.0}


def test_a_bad_value_on_a_repeated_line_is_an_error_as_without_the_template() -> None:
    """The line parser reads a repeated line's value before dropping it (found by the fuzz test)."""
    lines = ["vllm:num_requests_running{} 0.0", "vllm:num_requests_running{} 0.0"]
    cache = ParseCache()
    good = _with_values(lines, ["1.0", "2.0"])
    _read(good, cache)
    _read(good, cache)
    assert cache.template is not None
    bad = _with_values(lines, ["3.0", "x"])
    assert _read(bad, None, max_held=0) == "error"
    assert _read(bad, cache) == "error"
    assert not isinstance(snap := _read(_with_values(lines, ["4.0", "5.0"]), cache), str)
    assert snap.scalars["vllm_num_requests_running"] == {(): 4.0} and snap.duplicates == 1
