"""Recording rules for workload drift and latency anomalies.

Workload drift compares a model's mean prompt and generation length over the last hour with
the same hour one week earlier (``offset 7d`` of the recorded mean), and records the share of
requests cut off by ``max_tokens`` (finish_reason ``length``). Latency anomalies compare the
last hour's mean TTFT and inter-token latency with the same hour of the previous
``anomaly.baseline_days`` days (mean, standard deviation and how many days exist). Preemption
rate and speculative-decoding acceptance feed the dashboards and the preemption-storm alert.
"""

from __future__ import annotations

from .bundle import Bundle
from .matchers import eq

LENGTHS = (("prompt", "llm_request_prompt_tokens"), ("generation", "llm_request_generation_tokens"))
LATENCIES = (("ttft", "llm_time_to_first_token_seconds"), ("inter_token", "llm_inter_token_latency_seconds"))


def mean1h(metric: str) -> str:
    """Recorded name of a histogram's one-hour mean per model."""
    return f"model:{metric}:mean1h"


def drift_rules(b: Bundle) -> list[tuple[str, str]]:
    """(record, expr) pairs of the drift recording group."""
    by = b.by("model")
    w = b.rate_window
    out: list[tuple[str, str]] = []

    def mean(metric: str, window: str) -> str:
        return (
            f"sum {by} (rate({b.sel(metric + '_sum')}[{window}]))\n/\n"
            f"(sum {by} (rate({b.sel(metric + '_count')}[{window}])) > 0)"
        )

    for _, metric in LENGTHS:
        out.append((mean1h(metric), mean(metric, "1h")))
        out.append((mean1h(metric) + "_last_week", f"{mean1h(metric)} offset 7d"))
    total = f"sum {by} (rate({b.sel('llm_requests_total')}[1h]))"
    length = f"sum {by} (rate({b.sel('llm_requests_total', eq('finish_reason', 'length'))}[1h]))"
    out.append(("model:llm_requests_length:ratio_rate1h", f"({length} or {total} * 0)\n/\n({total} > 0)"))
    out.append(("model:llm_requests_length:ratio_rate1h_last_week", "model:llm_requests_length:ratio_rate1h offset 7d"))
    days = int(b["anomaly"]["baseline_days"])
    for _, metric in LATENCIES:
        rec = mean1h(metric)
        out.append((rec, mean(metric, "1h")))
        offsets = " or\n".join(
            f'label_replace({rec} offset {d}d, "offset", "{d}d", "", "")' for d in range(1, days + 1)
        )
        out.append((rec + "_baseline_mean", f"avg without (offset) (\n{offsets}\n)"))
        out.append((rec + "_baseline_stddev", f"stddev without (offset) (\n{offsets}\n)"))
        out.append((rec + "_baseline_days", f"count without (offset) (\n{offsets}\n)"))
    out.append((f"model:llm_preemptions:rate{w}", f"sum {by} (rate({b.sel('llm_preemptions_total')}[{w}]))"))
    accepted = f"sum {by} (rate({b.sel('llm_spec_decode_accepted_tokens_total')}[{w}]))"
    drafted = f"sum {by} (rate({b.sel('llm_spec_decode_draft_tokens_total')}[{w}]))"
    out.append((f"model:llm_spec_decode_acceptance:ratio_rate{w}", f"{accepted}\n/\n({drafted} > 0)"))
    return out
