"""The upstream parser: format quirks, bounds, and agreement with prometheus_client's parser."""

from __future__ import annotations

import math

import pytest
from http_upstream import fixture
from llm_exporter.collectors.inference.engines import VLLM
from llm_exporter.promtext import Parser, PromTextError, canonical, parse
from prometheus_client.parser import text_string_to_metric_families

QUIRKS = b"""# HELP a:b_total Counter with a colon.
# TYPE a:b_total counter
a:b_total{x="1"} 1.28734e+06
a:b_created{x="1"} 1.7e+09

# HELP no_samples Declared, never observed.
# TYPE no_samples counter
# TYPE g gauge
g{path="/models/Llama 3.1/",v="say \\"hi\\"\\\\n",w="a}b,c=\\"d"} NaN
g{path="",v="",w="x"} +Inf 1700000000000
g{path="",v="",w="y"} -Inf
# TYPE h1 histogram
h1_bucket{m="a",le="0.5"} 1
h1_bucket{m="a",le="+Inf"} 3
h1_count{m="a"} 3
h1_sum{m="a"} 2.5
h1_created{m="a"} 1.7e+09
# TYPE h2 histogram
h2_sum{m="a"} 0.75
h2_bucket{le="1.0",m="a"} 2
h2_bucket{le="+Inf",m="a"} 2
h2_count{m="a"} 2
# TYPE h3 histogram
h3_count{m="a"} 40
h3_sum{m="a"} 12000
h3_bucket{m="a",le="100"} 10
h3_bucket{m="a",le="+Inf"} 40
# TYPE routing gauge
routing{gt="0",le="1"} 3
"""


def test_quirks() -> None:
    snap = parse(QUIRKS, ["a:b_total", "g", "no_samples_total", "routing"], ["h1", "h2", "h3"])
    assert snap.scalars["a_b_total"] == {(("x", "1"),): 1287340.0}
    assert "a_b_created" not in snap.scalars  # _created ignored unless asked for
    assert "no_samples_total" not in snap.scalars and snap.types["no_samples"] == "counter"
    g = snap.scalars["g"]
    nan = g[(("path", "/models/Llama 3.1/"), ("v", 'say "hi"\\n'), ("w", 'a}b,c="d'))]
    assert math.isnan(nan)
    assert g[(("path", ""), ("v", ""), ("w", "x"))] == math.inf  # timestamp ignored
    assert g[(("path", ""), ("v", ""), ("w", "y"))] == -math.inf
    for name, sum_, buckets in (
        ("h1", 2.5, {0.5: 1, math.inf: 3}),
        ("h2", 0.75, {1.0: 2, math.inf: 2}),
        ("h3", 12000, {100.0: 10, math.inf: 40}),
    ):
        hs = snap.histograms[name][(("m", "a"),)]
        assert (hs.buckets, hs.sum) == (buckets, sum_), name
    assert snap.scalars["routing"] == {(("gt", "0"), ("le", "1")): 3.0}  # a gauge with le stays a gauge


def test_both_spellings_are_one_family() -> None:
    body = b'vllm:x_total{m="a"} 1\nvllm_x_total{m="b"} 2\n'
    snap = parse(body, ["vllm:x_total"])
    assert snap.scalars[canonical("vllm:x_total")] == {(("m", "a"),): 1.0, (("m", "b"),): 2.0}


def test_openmetrics_eof_and_exemplars() -> None:
    body = (
        b'# TYPE c counter\nc_total{m="a"} 5 # {trace_id="abc"} 1.0 1700000000\n'
        b'# TYPE h histogram\nh_bucket{le="+Inf"} 2 # {trace_id="t"} 0.3\nh_count 2\nh_sum 0.5\n# EOF\n'
    )
    snap = parse(body, ["c_total"], ["h"])
    assert snap.openmetrics_eof
    assert snap.scalars["c_total"] == {(("m", "a"),): 5.0}
    assert snap.histograms["h"][()].buckets == {math.inf: 2.0}
    with pytest.raises(PromTextError, match="after '# EOF'"):
        parse(body + b"c_total 1\n", ["c_total"])


def test_crlf_blank_lines_and_missing_final_newline() -> None:
    snap = parse(b'\r\n# TYPE x gauge\r\nx{a="1"} 2\r\n\n\nx{a="2"} 3', ["x"])
    assert snap.scalars["x"] == {(("a", "1"),): 2.0, (("a", "2"),): 3.0}
    with pytest.raises(PromTextError, match=r"truncated|without a value"):
        parse(b'x{a="1"} 2\nx{a="2"}', ["x"])


@pytest.mark.parametrize("size", [1, 7, 64, 4096])
def test_chunk_boundaries_do_not_matter(size: int) -> None:
    body = fixture("vllm-v1.prom")
    whole = parse(body, VLLM.scalar_names(), VLLM.histogram_names())
    p = Parser(VLLM.scalar_names(), VLLM.histogram_names(), max_held=0)  # streamed, line pieces across chunks
    for i in range(0, len(body), size):
        p.feed(body[i : i + size])
    assert p.close() == whole


def test_agrees_with_prometheus_client_parser() -> None:
    body = fixture("vllm-v1.prom")
    snap = parse(body, VLLM.scalar_names(), VLLM.histogram_names())
    checked = 0
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            key = canonical(s.name)
            labels = tuple(sorted(s.labels.items()))
            if key in snap.scalars:
                assert snap.scalars[key][labels] == s.value
                checked += 1
            base, _, suffix = key.rpartition("_")
            if base in snap.histograms and suffix in ("bucket", "sum", "count"):
                le = s.labels.get("le")
                hs = snap.histograms[base][tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))]
                got = hs.buckets[float(le)] if le is not None else hs.sum if suffix == "sum" else hs.count
                assert got == s.value, s
                checked += 1
    assert checked > 250


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html><body>502</body></html>\n", "HTML"),
        (b'{"error": 1}\n', "not Prometheus text"),
        (b'x{a="1" 2\n', "label"),
        (b"x{a=1} 2\n", "label syntax"),
        (b"x abc\n", "bad value"),
        (b'x{a="\xff"} 1\n', "invalid UTF-8"),
        (b'h_bucket{a="1"} 1\n', "without le"),
    ],
)
def test_malformed_bodies_are_clear_errors(body: bytes, match: str) -> None:
    with pytest.raises(PromTextError, match=match):
        parse(body, ["x"], ["h"])


def test_bounds() -> None:
    body = b"".join(b'u{i="%d"} 1\n' % i for i in range(1000))
    with pytest.raises(PromTextError, match="more than 999 samples"):
        parse(body, [], max_samples=999)
    with pytest.raises(PromTextError, match="larger than 100 bytes"):
        parse(body, [], max_bytes=100)
    assert parse(body, [], max_samples=1000).samples == 1000  # unwanted families are counted, not stored


def test_le_is_found_wherever_it_is_and_not_inside_other_names() -> None:
    body = (
        b'h_bucket{handle="/v1",le="0.1"} 1\nh_bucket{le="+Inf",handle="/v1"} 2\n'
        b'h_bucket{handle="/v1",le="1.28734e+06",x=""} 1\n'
        b'h_count{handle="/v1"} 2\nh_sum{handle="/v1"} 0.3\n'
    )
    snap = parse(body, [], ["h"])
    assert snap.histograms["h"][(("handle", "/v1"),)].buckets == {0.1: 1.0, math.inf: 2.0}
    assert snap.histograms["h"][(("handle", "/v1"), ("x", ""))].buckets == {1287340.0: 1.0}
