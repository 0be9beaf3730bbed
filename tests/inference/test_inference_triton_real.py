"""A real Triton Inference Server (PyTriton) end to end: Triton core families through the exporter.

PyTriton serves a Python function (``pytriton_server.py``), not an LLM, so this proves the
Triton core ``nv_inference_*`` families (success, failure by reason, counts, durations,
pending); the TensorRT-LLM families are proven on payloads only (tests/fixtures). Requests
succeed or fail on purpose, then a concurrent burst queues behind the single instance.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from exporter_proc import Exporter, run_exporter
from llm_exporter.collectors.inference.engines import ENGINES
from prom import Prometheus, start_prometheus
from real_engines import Server, assert_no_drift, get_text, post_json
from support import wait_for
from values import samples
from values import text_value as value

pytestmark = pytest.mark.slow

T = "triton"
MODEL = "sleepy"
OK, FAILED, BURST = 5, 2, 4


def infer(server: Server, x: float) -> bool:
    body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [x]}]}
    try:
        resp = post_json(f"{server.url}/v2/models/{MODEL}/infer", body, timeout=60)
    except urllib.error.HTTPError:
        return False
    assert resp["outputs"][0]["data"] == [2 * x]
    return True


@dataclass
class Run:
    exp: Exporter
    prom: Prometheus
    seen_waiting: float
    body: str


@pytest.fixture(scope="module")
def run(triton_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("triton-run")
    config = f"""
inference:
  - name: {T}
    server: triton
    url: {triton_server.metrics_url.removesuffix("/metrics")}
scrape:
  min_interval: 0s
gpu:
  enabled: false
"""
    with contextlib.ExitStack() as stack:
        exp = stack.enter_context(run_exporter(config, tmp))
        prom = stack.enter_context(start_prometheus(tmp, [exp.address]))
        prom.wait_for('llm_target_up{target="triton"} == 1')
        assert [infer(triton_server, 0.0) for _ in range(OK)] == [True] * OK
        assert [infer(triton_server, -1.0) for _ in range(FAILED)] == [False] * FAILED
        threads = [threading.Thread(target=infer, args=(triton_server, 1.0)) for _ in range(BURST)]
        for t in threads:
            t.start()
        seen = 0.0
        while any(t.is_alive() for t in threads):
            seen = max(seen, value(exp.metrics(), "llm_requests_waiting", target=T, model=MODEL) or 0)
            time.sleep(0.1)
        for t in threads:
            t.join()
        yield Run(exp, prom, seen, get_text(triton_server.metrics_url))


def test_triton_core_families_in_the_real_body(run: Run) -> None:
    body, lab = run.body, {"model": MODEL, "version": "1"}
    assert value(body, "nv_inference_request_success", **lab) == OK + BURST
    assert value(body, "nv_inference_count", **lab) == OK + BURST
    assert value(body, "nv_inference_exec_count", **lab) == OK + FAILED + BURST  # failed ones executed too
    failures = {dict(k).get("reason"): v for k, v in samples(body, "nv_inference_request_failure").items()}
    assert sum(failures.values()) == FAILED, failures
    assert value(body, "nv_inference_request_duration_us", **lab) >= BURST * 1e6  # each burst request slept 1 s
    assert value(body, "nv_inference_pending_request_count", **lab) == 0


def test_outcomes_and_durations_through_exporter_and_prometheus(run: Run) -> None:
    n = OK + BURST

    def settled() -> str | None:
        text = run.exp.metrics()
        return text if value(text, "llm_request_duration_seconds_count", target=T, model=MODEL) == n else None

    text = str(wait_for(settled, 30, interval=0.3, what="Triton to count every request"))
    got = {dict(k)["finish_reason"]: v for k, v in samples(text, "llm_requests_total").items() if ("target", T) in k}
    assert got == {"unknown": n, "error": FAILED, "rejected": 0, "abort": 0}
    for metric in ("llm_request_duration_seconds", "llm_request_queue_duration_seconds"):
        assert value(text, metric + "_count", target=T, model=MODEL) == n
        assert value(text, metric + "_bucket", target=T, model=MODEL, le="+Inf") == n
    # Seconds, not microseconds: the burst slept 4 x 1 s and queued behind one instance.
    total = value(text, "llm_request_duration_seconds_sum", target=T, model=MODEL)
    assert total is not None and BURST <= total < 60
    queued = value(text, "llm_request_queue_duration_seconds_sum", target=T, model=MODEL)
    assert queued is not None and 1 <= queued < total
    run.prom.wait_for(f'llm_requests_total{{target="triton",model="{MODEL}",finish_reason="unknown"}} == {n}')
    run.prom.wait_for(f'llm_requests_total{{target="triton",model="{MODEL}",finish_reason="error"}} == {FAILED}')
    run.prom.wait_for(f'llm_request_duration_seconds_count{{target="triton",model="{MODEL}"}} == {n}')
    run.prom.wait_for(f'llm_model_info{{target="triton",server="triton",model="{MODEL}"}} == 1')


def test_pending_requests_move_under_a_burst(run: Run) -> None:
    assert run.seen_waiting >= 1
    run.prom.wait_for('max_over_time(llm_requests_waiting{target="triton"}[10m]) >= 1')
    run.prom.wait_for('llm_requests_waiting{target="triton"} == 0')


def test_every_triton_family_is_mapped_or_ignored(run: Run) -> None:
    assert_no_drift(ENGINES["triton"], run.body)
