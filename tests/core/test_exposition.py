"""The fast renderer writes exactly what prometheus_client's encoders write for the same families."""

from __future__ import annotations

import math

import pytest
from llm_exporter.catalog import CATALOG
from llm_exporter.exposition import OPENMETRICS, TEXT, choose_format, go_float, go_floats, render
from llm_exporter.metricset import MetricSet
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as om_latest
from prometheus_client.utils import floatToGoString

ODD_VALUES = ["plain", 'with "quotes"', "back\\slash", "new\nline", "ünïcödé", ""]
NUMBERS = [0.0, 1.0, -2.5, 1e-9, 123456789.0, 1.5e21, 7e6, math.inf, -math.inf, math.nan, 0.1 + 0.2]


def every_metric() -> MetricSet:
    """One or more series of every catalog metric, with hostile label values and odd numbers."""
    ms = MetricSet()
    for i, spec in enumerate(CATALOG):
        for j in range(2):
            labels = {name: ODD_VALUES[(i + j + k) % len(ODD_VALUES)] + str(j) for k, name in enumerate(spec.labels)}
            if spec.extra_labels:
                labels["zz_extra"] = "x"
                labels["a_extra"] = "y"
            if spec.type == "histogram":
                bounds = [(0.001, 1.0), (0.5, 2.0), (10.0, 7.0), (1e7, 8.0), (math.inf, 9.0)]
                ms.add_histogram(spec.name, labels, bounds[j:], NUMBERS[(i + j) % len(NUMBERS)])
            else:
                ms.add(spec.name, NUMBERS[(i + j) % len(NUMBERS)], labels)
    return ms


def test_text_format_is_byte_identical_to_prometheus_client() -> None:
    ms = every_metric()
    assert render(ms) == generate_latest(ms)  # type: ignore[arg-type]


def test_openmetrics_is_byte_identical_to_prometheus_client() -> None:
    ms = every_metric()
    assert render(ms, openmetrics=True) == om_latest(ms)  # type: ignore[arg-type]


def test_empty_set() -> None:
    assert render(MetricSet()) == b""
    assert render(MetricSet(), openmetrics=True) == b"# EOF\n"


@pytest.mark.parametrize("value", [*NUMBERS, 1e6, 12345678.9, 5e-324, 1.7976931348623157e308, -1e22])
def test_go_float_matches_prometheus_client(value: float) -> None:
    assert go_float(value) == floatToGoString(value)


@pytest.mark.parametrize(
    ("accept", "openmetrics", "ctype"),
    [
        ("", False, TEXT),
        ("text/plain;version=0.0.4", False, TEXT),
        ("application/openmetrics-text", True, OPENMETRICS),
        ("application/openmetrics-text; version=1.0.0", True, OPENMETRICS + "; escaping=underscores"),
        ("application/openmetrics-text;version=0.0.1,text/plain;version=0.0.4", False, TEXT),
        (
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
            "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            True,
            OPENMETRICS + "; escaping=allow-utf-8",
        ),
    ],
)
def test_content_negotiation(accept: str, openmetrics: bool, ctype: str) -> None:
    assert choose_format(accept) == (openmetrics, ctype)


class Counting:
    """A collector that counts its reads."""

    name = "inference"
    target = "t"
    key = "inference/t"

    def __init__(self) -> None:
        self.reads = 0

    def collect(self, out: MetricSet, deadline: object) -> None:
        self.reads += 1
        out.add("llm_requests_running", self.reads, {"target": "t", "model": "m"})


def runtime_with(collector: Counting, min_interval: float):  # type: ignore[no-untyped-def]
    from llm_exporter.config import load_config
    from llm_exporter.runtime import Runtime
    from llm_exporter.scrape import ScrapeEngine

    rt = Runtime(None, load_config(None))
    rt.engine.close()
    rt.engine = ScrapeEngine([collector], min_interval=min_interval)
    return rt


def test_exposition_is_rendered_once_per_collection() -> None:
    import gzip

    c = Counting()
    rt = runtime_with(c, min_interval=3600)
    first = rt.exposition(5.0)
    assert rt.exposition(5.0) is first  # same read: the same bytes, not rendered again
    assert c.reads == 1
    gz = rt.exposition(5.0, gzipped=True)
    assert gzip.decompress(gz) == first
    assert rt.exposition(5.0, gzipped=True) is gz
    om = rt.exposition(5.0, openmetrics=True)
    assert om == render(rt.collect(5.0), openmetrics=True)
    assert b"llm_requests_running" in first


def test_a_new_read_is_rendered_anew() -> None:
    c = Counting()
    rt = runtime_with(c, min_interval=0)
    first = rt.exposition(5.0)
    second = rt.exposition(5.0)
    assert c.reads == 2
    assert b'llm_requests_running{model="m",target="t"} 1.0' in first
    assert b'llm_requests_running{model="m",target="t"} 2.0' in second


@pytest.mark.parametrize(
    "values",
    [
        [0.0, 1.0, 3.0, 999999.0, 5e-324, -1e22, 0.1 + 0.2],  # all spelled by repr
        [0.0, 1e6, 2.0],  # 1e6 needs Go's exponent
        [1.0, math.inf],
        [math.nan, 1.0],
        [1.0, -math.inf],
        NUMBERS,
        [],
    ],
)
def test_go_floats_match_prometheus_client(values: list[float]) -> None:
    assert go_floats(values) == [floatToGoString(v) for v in values]
