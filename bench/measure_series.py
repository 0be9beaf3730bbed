#!/usr/bin/env python3
"""Measure how many series one exporter adds per GPU, per model and per queue, and what it costs.

Runs the real ``llm-exporter`` (subprocess, loopback only) against real sources and counts the
series of its /metrics (every sample line, each histogram bucket included):

- GPUs: the project's fake ``libnvidia-ml.so.1`` (tests/gpu, real pynvml binding) with 1 and 2
  H100s; per GPU = series(2) - series(1).
- Models: a loopback HTTP server serving the vLLM v1 fixture (tests/fixtures/inference/vllm-v1.prom)
  with the model's series once, and once more under a second model name; per model = difference.
- Queues: a real ``redis-server`` with 1 and 2 Celery queues; per queue = difference.

Then a sidecar-shaped config (8 GPUs, one vLLM model) is scraped repeatedly to report resident
memory and CPU per scrape, which size the Kubernetes requests and limits.

    python bench/measure_series.py [--scrapes 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "gpu")]

import fakenvml  # noqa: E402
import redis  # noqa: E402
from brokers import redis_server  # noqa: E402
from exporter_proc import run_exporter  # noqa: E402
from http_upstream import Upstream, send  # noqa: E402

FIXTURE = REPO / "tests" / "fixtures" / "inference" / "vllm-v1.prom"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def count(text: str) -> tuple[int, dict[str, int]]:
    """Total series and series per metric family."""
    per: dict[str, int] = {}
    for fam in text_string_to_metric_families(text):
        per[fam.name] = per.get(fam.name, 0) + len(fam.samples)
    return sum(per.values()), per


@contextmanager
def vllm_server(models: int) -> Iterator[str]:
    """Serve the vLLM fixture; with models=2 every model series appears again for a second model."""
    base = FIXTURE.read_text(encoding="utf-8")
    extra = [
        line.replace(MODEL, "Qwen/Qwen2.5-7B-Instruct")
        for line in base.splitlines()
        if MODEL in line and not line.startswith("#")
    ]
    body = (base.rstrip("\n") + "\n" + ("\n".join(extra) + "\n" if models == 2 else "")).encode()
    names = [MODEL, "Qwen/Qwen2.5-7B-Instruct"][:models]
    models_doc = (
        '{"object":"list","data":['
        + ",".join(f'{{"id":"{n}","object":"model","owned_by":"vllm","max_model_len":8192}}' for n in names)
        + "]}"
    ).encode()

    routes = {
        "/metrics": send(200, body, "text/plain; version=0.0.4"),
        "/v1/models": send(200, models_doc, "application/json"),
        "/version": send(200, b'{"version":"0.11.0"}', "application/json"),
        "/health": send(200, b"", "text/plain"),
    }
    with Upstream(routes) as server:
        yield server.url


def scrape(config: str, tmp: Path, env: dict[str, str] | None = None) -> str:
    with run_exporter(config, tmp, env=env) as exp:
        exp.metrics()  # first scrape starts lazy pieces (XID watcher, discovery)
        time.sleep(1.2)  # past the per-target minimum interval
        return exp.metrics()


def gpu_env(tmp: Path, n: int) -> dict[str, str]:
    lib = fakenvml.build()
    scenario = fakenvml.write_scenario(tmp / f"gpus-{n}.conf", fakenvml.healthy(n))
    return {"LD_LIBRARY_PATH": str(lib), fakenvml.ENV: str(scenario)}


def measure_gpus(tmp: Path) -> tuple[int, int]:
    totals = [count(scrape("gpu:\n  enabled: true\n", tmp, gpu_env(tmp, n)))[0] for n in (1, 2)]
    return totals[0], totals[1] - totals[0]


def measure_models(tmp: Path) -> tuple[int, int, dict[str, int]]:
    totals, fams = [], []
    for n in (1, 2):
        with vllm_server(n) as url:
            total, per = count(
                scrape(f"gpu:\n  enabled: false\ninference:\n  - name: vllm\n    url: {url}\n    server: vllm\n", tmp)
            )
        totals.append(total)
        fams.append(per)
    diff = {k: fams[1].get(k, 0) - fams[0].get(k, 0) for k in fams[1] if fams[1].get(k, 0) != fams[0].get(k, 0)}
    return totals[0], totals[1] - totals[0], diff


def measure_queues(tmp: Path) -> tuple[int, int]:
    totals = []
    with redis_server(tmp) as r:
        client = redis.Redis.from_url(r.url)
        for q in ("celery", "agents"):
            client.lpush(q, '{"body": "x"}')
        for n in (1, 2):
            queues = "".join(f"      - name: {q}\n        kind: celery\n" for q in ("celery", "agents")[:n])
            cfg = (
                f"gpu:\n  enabled: false\nqueues:\n  - name: redis\n    backend: redis\n    url: {r.url}\n"
                f"    queues:\n{queues}"
            )
            totals.append(count(scrape(cfg, tmp))[0])
    return totals[0], totals[1] - totals[0]


def measure_cost(tmp: Path, scrapes: int) -> dict[str, float]:
    with vllm_server(1) as url:
        cfg = (
            f"gpu:\n  enabled: true\ninference:\n  - name: vllm\n    url: {url}\n    server: vllm\n"
            "scrape:\n  min_interval: 0s\n"
        )
        with run_exporter(cfg, tmp, env=gpu_env(tmp, 8)) as exp:
            proc = psutil.Process(exp.proc.pid)
            series = count(exp.metrics())[0]
            for _ in range(20):
                exp.metrics()
            cpu0 = sum(proc.cpu_times()[:2])
            rss_max = 0
            start = time.perf_counter()
            for _ in range(scrapes):
                exp.metrics()
                rss_max = max(rss_max, proc.memory_info().rss)
            wall = time.perf_counter() - start
            cpu = sum(proc.cpu_times()[:2]) - cpu0
    return {
        "series": series,
        "cpu_ms_per_scrape": 1000 * cpu / scrapes,
        "rss_mib": rss_max / 2**20,
        "wall_ms_per_scrape": 1000 * wall / scrapes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapes", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base_gpu, per_gpu = measure_gpus(tmp)
        base_model, per_model, model_families = measure_models(tmp)
        base_queue, per_queue = measure_queues(tmp)
        cost = measure_cost(tmp, args.scrapes)
    print("series added by one exporter (samples in /metrics, histogram buckets counted)")
    print(f"{'dimension':<34}{'with one':>10}{'each more':>11}")
    print(f"{'GPU (fake NVML, H100 scenario)':<34}{base_gpu:>10}{per_gpu:>11}")
    print(f"{'model (vLLM v1 fixture)':<34}{base_model:>10}{per_model:>11}")
    print(f"{'queue (Redis, Celery queue)':<34}{base_queue:>10}{per_queue:>11}")
    print("families that grow per model: " + ", ".join(f"{k}={v}" for k, v in sorted(model_families.items())))
    print(f"\nsidecar shape (8 GPUs + 1 vLLM model, {args.scrapes} scrapes, every scrape collects):")
    print(
        f"  series {cost['series']:.0f}, CPU {cost['cpu_ms_per_scrape']:.2f} ms/scrape, "
        f"wall {cost['wall_ms_per_scrape']:.2f} ms/scrape, max RSS {cost['rss_mib']:.1f} MiB"
    )


if __name__ == "__main__":
    main()
