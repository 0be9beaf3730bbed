"""Per-target caps (issue 10 item 11): a 150,000-model upstream over a real socket.

Under default limits the target exports at most ``max_models`` (1,000) models and
``max_series`` (20,000) series; the rest is counted in ``llm_target_dropped_series`` and
logged once, and the memory the exporter keeps returns to its baseline once the upstream is
normal again.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator

import pytest
from http_upstream import Upstream, send, streamed
from llm_exporter.collectors.inference import InferenceCollector
from llm_exporter.config import InferenceTarget
from llm_exporter.exposition import render
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import Deadline

MODELS = 150_000


def _models(n: int) -> Iterator[bytes]:
    batch = []
    for i in range(n):
        batch.append(b'vllm:prompt_tokens_total{engine="0",model_name="model-%06d"} %d\n' % (i, i))
        if len(batch) == 5000:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)


NORMAL = b"".join(_models(3))


def _collect(c: InferenceCollector) -> MetricSet:
    out = MetricSet()
    c.collect(out, Deadline(60))
    return out


def _dropped(out: MetricSet) -> float | None:
    v = out.get("llm_target_dropped_series", {"target": "t"})
    assert v is None or isinstance(v, float)
    return v


def test_huge_model_count_is_capped_counted_logged_once_and_memory_returns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with Upstream({"/metrics": send(200, NORMAL)}) as up:
        c = InferenceCollector(InferenceTarget(name="t", url=up.url, server="vllm", model="unused", timeout=60.0))
        _collect(c)
        gc.collect()
        baseline = len(gc.get_objects())
        up.routes["/metrics"] = streamed(lambda: _models(MODELS))
        for _ in range(2):
            huge = _collect(c)
            assert len(huge.series("llm_prompt_tokens_total")) == 1000
            assert len(huge.series("llm_model_info")) == 1000
            # Past max_series (20,000) series of one family the rest is not even read (130,000);
            # of the 20,000 read, models past max_models lose their counter and llm_model_info.
            assert _dropped(huge) == (MODELS - 20_000) + 2 * (20_000 - 1000)
        assert len(render(huge)) < 1_000_000
        del huge
        up.routes["/metrics"] = send(200, NORMAL)
        for _ in range(2):
            normal = _collect(c)
        assert _dropped(normal) == 0
        assert len(normal.series("llm_model_info")) == 3
        gc.collect()
        # What the collector keeps between scrapes (counter state, caches) is back near its baseline:
        # before the caps it held state for every model ever seen (150,000 x several objects).
        retained = len(gc.get_objects()) - baseline
    assert retained < 20_000, f"{retained} more live objects after the upstream became normal"
    logged = [r.getMessage() for r in caplog.records if "max_models" in r.getMessage()]
    assert len(logged) == 1, logged


def test_max_series_caps_what_one_target_exports() -> None:
    with Upstream({"/metrics": streamed(lambda: _models(5000))}) as up:
        cfg = InferenceTarget(name="t", url=up.url, server="vllm", max_models=10_000, max_series=2_500)
        out = _collect(InferenceCollector(cfg))
    engine_series = len(out.series("llm_prompt_tokens_total")) + len(out.series("llm_model_info"))
    assert engine_series == 2_500
    # 2,500 series of the family read (the other 2,500 unread, counted once each); of the 5,000
    # output series (counter + llm_model_info per model) the last 2,500 are over max_series.
    assert _dropped(out) == 2_500 + 2_500
    assert out.get("llm_target_info", {"target": "t", "kind": "inference", "software": "vllm", "version": ""}) == 1
