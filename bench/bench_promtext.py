"""Benchmark: llm-exporter's upstream parser + normaliser vs prometheus_client's text parser alone.

Builds a vLLM V1 /metrics body of about 10,000 samples (8 models x 4 data-parallel engine
cores, every histogram family, single-process rendering with ``_created`` series), then
times, in one run on the same bytes:

- ours:   ``promtext.Parser`` (streamed in 64 KiB chunks) + ``mapping.normalise`` into a MetricSet
- client: ``prometheus_client.parser.text_string_to_metric_families`` (parse only, no normalising)

and prints microseconds per sample, the speed ratio (target >= 5x) and the peak memory of
one scrape (tracemalloc, measured in separate runs so it does not distort the timings).

    python bench/bench_promtext.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

from llm_exporter.collectors.inference.mapping import normalise
from llm_exporter.collectors.inference.vllm import VLLM
from llm_exporter.counters import CounterFolder
from llm_exporter.metricset import MetricSet
from llm_exporter.promtext import Parser
from prometheus_client.parser import text_string_to_metric_families

LAT = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680]
TTFT = [
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1,
    2.5,
    5,
    7.5,
    10,
    20,
    40,
    80,
    160,
    640,
    2560,
]
ITL = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80]
TOKENS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 131072]
ITER = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]

HISTOGRAMS = {
    "time_to_first_token_seconds": TTFT,
    "inter_token_latency_seconds": ITL,
    "request_time_per_output_token_seconds": ITL,
    "e2e_request_latency_seconds": LAT,
    "request_queue_time_seconds": LAT,
    "request_inference_time_seconds": LAT,
    "request_prefill_time_seconds": LAT,
    "request_decode_time_seconds": LAT,
    "request_prompt_tokens": TOKENS,
    "request_generation_tokens": TOKENS,
    "request_max_num_generation_tokens": TOKENS,
    "request_params_max_tokens": TOKENS,
    "request_prefill_kv_computed_tokens": TOKENS,
    "request_params_n": [1, 2, 5, 10, 20],
    "iteration_tokens_total": ITER,
    "request_num_preemptions": [1, 2, 3, 4, 5, 10, 20],
}
GAUGES = ["num_requests_running", "num_requests_waiting", "kv_cache_usage_perc"]
COUNTERS = [
    "prefix_cache_queries",
    "prefix_cache_hits",
    "prompt_tokens",
    "prompt_tokens_cached",
    "generation_tokens",
    "num_preemptions",
    "external_prefix_cache_queries",
    "external_prefix_cache_hits",
]


def vllm_body(models: int = 8, engines: int = 4) -> bytes:
    out: list[str] = []
    series = [(f'engine="{e}",model_name="org/model-{m}-70B-Instruct"') for m in range(models) for e in range(engines)]
    for g in GAUGES:
        out += [f"# HELP vllm:{g} gauge.", f"# TYPE vllm:{g} gauge"]
        out += [f"vllm:{g}{{{s}}} {i % 7 * 0.5}" for i, s in enumerate(series)]
    for c in COUNTERS:
        out += [f"# HELP vllm:{c}_total counter.", f"# TYPE vllm:{c}_total counter"]
        out += [f"vllm:{c}_total{{{s}}} {1234567.0 + i}" for i, s in enumerate(series)]
        out += [f"# HELP vllm:{c}_created counter.", f"# TYPE vllm:{c}_created gauge"]
        out += [f"vllm:{c}_created{{{s}}} 1.7500001234e+09" for s in series]
    out += ["# HELP vllm:request_success_total ok.", "# TYPE vllm:request_success_total counter"]
    for s in series:
        out += [
            f'vllm:request_success_total{{{s},finished_reason="{r}"}} 42.0'
            for r in ("stop", "length", "abort", "error", "repetition")
        ]
    for h, bounds in HISTOGRAMS.items():
        out += [f"# HELP vllm:{h} histogram.", f"# TYPE vllm:{h} histogram"]
        for s in series:
            for i, b in enumerate(bounds):
                out.append(f'vllm:{h}_bucket{{{s},le="{float(b)}"}} {float(i * 3)}')
            out.append(f'vllm:{h}_bucket{{{s},le="+Inf"}} {float(len(bounds) * 3)}')
            out.append(f"vllm:{h}_count{{{s}}} {float(len(bounds) * 3)}")
            out.append(f"vllm:{h}_sum{{{s}}} 123.456")
        out += [f"# HELP vllm:{h}_created histogram.", f"# TYPE vllm:{h}_created gauge"]
        out += [f"vllm:{h}_created{{{s}}} 1.7500001234e+09" for s in series]
    return ("\n".join(out) + "\n").encode()


def ours(body: bytes, folder: CounterFolder) -> MetricSet:
    parser = Parser(VLLM.scalar_names(), VLLM.histogram_names(), max_samples=1_000_000)
    view = memoryview(body)
    for i in range(0, len(view), 65536):
        parser.feed(view[i : i + 65536])
    out = MetricSet()
    normalise(VLLM, parser.close(), out, "bench", "unknown", folder)
    return out


def client(body: bytes) -> int:
    return sum(len(f.samples) for f in text_string_to_metric_families(body.decode("utf-8")))


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    body = vllm_body()
    samples = client(body)
    folder = CounterFolder()
    ours(body, folder)  # warm-up (and first folder round)
    t_ours = timed(lambda: ours(body, folder), args.repeat)
    t_client = timed(lambda: client(body), args.repeat)
    m_ours = peak(lambda: ours(body, folder))
    m_client = peak(lambda: client(body))
    print(
        f"vLLM payload: {samples} samples, {len(body) / 1024:.0f} KiB, 8 models x 4 engines, "
        f"{len(HISTOGRAMS)} histogram families; median of {args.repeat} runs"
    )
    print(f"{'':44} {'ms/scrape':>10} {'us/sample':>10} {'peak MiB':>9}")
    print(
        f"{'llm-exporter promtext parse + normalise':44} {t_ours * 1e3:10.2f} {t_ours / samples * 1e6:10.3f} "
        f"{m_ours / 2**20:9.2f}"
    )
    print(
        f"{'prometheus_client text parser alone':44} {t_client * 1e3:10.2f} {t_client / samples * 1e6:10.3f} "
        f"{m_client / 2**20:9.2f}"
    )
    ratio = t_client / t_ours
    print(f"speed-up: {ratio:.1f}x (target >= 5x) {'OK' if ratio >= 5 else 'BELOW TARGET'}")


if __name__ == "__main__":
    main()
