"""Upstream payloads shared by the benchmarks: a vLLM V1 ``/metrics`` body of any size.

``vllm_body(models, engines)`` renders every histogram, gauge and counter family vLLM V1
exposes for ``models x engines`` label sets, single-process style with ``_created`` series,
about 310 samples per (model, engine) pair, with varied values; ``step`` advances them as load would.
"""

from __future__ import annotations

import random

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


def vllm_body(models: int = 8, engines: int = 4, step: int = 0) -> bytes:
    """The body after ``step`` intervals of load: bodies of one size have the same lines, and
    from one step to the next the counters and histogram buckets grow and the gauges change,
    as a busy server's body does from one scrape to the next."""
    base = random.Random(0)  # per-series start values and growth per step
    now = random.Random(step)  # gauges
    out: list[str] = []
    series = [(f'engine="{e}",model_name="org/model-{m}-70B-Instruct"') for m in range(models) for e in range(engines)]

    def counter(scale: int) -> float:
        return float(base.randrange(scale) + step * base.randrange(scale // 1000 + 1))

    for g in GAUGES:
        out += [f"# HELP vllm:{g} gauge.", f"# TYPE vllm:{g} gauge"]
        scale = 1.0 if g.endswith("perc") else 64.0
        out += [f"vllm:{g}{{{s}}} {round(now.random() * scale, 6)}" for s in series]
    for c in COUNTERS:
        out += [f"# HELP vllm:{c}_total counter.", f"# TYPE vllm:{c}_total counter"]
        out += [f"vllm:{c}_total{{{s}}} {counter(10**9)}" for s in series]
        out += [f"# HELP vllm:{c}_created counter.", f"# TYPE vllm:{c}_created gauge"]
        out += [f"vllm:{c}_created{{{s}}} 1.7500001234e+09" for s in series]
    out += ["# HELP vllm:request_success_total ok.", "# TYPE vllm:request_success_total counter"]
    for s in series:
        out += [
            f'vllm:request_success_total{{{s},finished_reason="{r}"}} {counter(10**6)}'
            for r in ("stop", "length", "abort", "error", "repetition")
        ]
    for h, bounds in HISTOGRAMS.items():
        out += [f"# HELP vllm:{h} histogram.", f"# TYPE vllm:{h} histogram"]
        for s in series:
            count = 0.0
            for b in bounds:
                count += counter(1000)
                out.append(f'vllm:{h}_bucket{{{s},le="{float(b)}"}} {count}')
            count += counter(10)
            out.append(f'vllm:{h}_bucket{{{s},le="+Inf"}} {count}')
            out.append(f"vllm:{h}_count{{{s}}} {count}")
            out.append(f"vllm:{h}_sum{{{s}}} {round(count * (1.5 + base.random()), 6)}")
        out += [f"# HELP vllm:{h}_created histogram.", f"# TYPE vllm:{h}_created gauge"]
        out += [f"vllm:{h}_created{{{s}}} 1.7500001234e+09" for s in series]
    return ("\n".join(out) + "\n").encode()
