"""Recording rules, named ``level:metric:operations``.

The level lists the kept labels beyond the bundle's ``aggregation_labels`` (``job`` by
default): ``model:`` keeps (job, model), ``model_le:`` also keeps the bucket bound.
Ratios divide aggregated numerators by aggregated denominators (never an average of
ratios), with ``(den > 0)`` so idle models give no series instead of NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bundle import Bundle, le, seconds
from .drift import drift_rules
from .matchers import eq, regex

HISTOGRAMS = (
    "llm_request_duration_seconds",
    "llm_time_to_first_token_seconds",
    "llm_inter_token_latency_seconds",
    "llm_time_per_output_token_seconds",
    "llm_request_queue_duration_seconds",
    "llm_request_prompt_tokens",
    "llm_request_generation_tokens",
    "llm_request_prefill_duration_seconds",
    "llm_request_decode_duration_seconds",
)
SLI_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


@dataclass(frozen=True)
class Rule:
    record: str
    expr: str


@dataclass(frozen=True)
class Sli:
    """One SLI: ``events`` per second and the ``bad`` share of them, per model."""

    key: str  # errors, ttft, inter_token (bundle slo.slis key)
    title: str
    events: str  # recorded metric part for the event rate
    bad: str  # recorded metric part for the bad-event ratio
    objective: float
    floor: float
    threshold: float | None

    def events_rule(self, window: str) -> str:
        return f"model:{self.events}:rate{window}"

    def ratio_rule(self, window: str) -> str:
        return f"model:{self.bad}:ratio_rate{window}"

    def budget_rule(self, period: str) -> str:
        return f"model:{self.bad}:error_budget_remaining{period}"


def slis(b: Bundle) -> list[Sli]:
    s = b["slo"]["slis"]
    return [
        Sli(
            "errors",
            "Errors",
            "llm_slo_requests",
            "llm_slo_failed_requests",
            float(s["errors"]["objective"]),
            float(s["errors"]["min_events_per_second"]),
            None,
        ),
        Sli(
            "ttft",
            "Time to first token",
            "llm_slo_first_tokens",
            "llm_slo_slow_first_tokens",
            float(s["ttft"]["objective"]),
            float(s["ttft"]["min_events_per_second"]),
            float(s["ttft"]["threshold_seconds"]),
        ),
        Sli(
            "inter_token",
            "Inter-token latency",
            "llm_slo_inter_tokens",
            "llm_slo_slow_inter_tokens",
            float(s["inter_token"]["objective"]),
            float(s["inter_token"]["min_events_per_second"]),
            float(s["inter_token"]["threshold_seconds"]),
        ),
    ]


def _sli_exprs(b: Bundle, sli: Sli, w: str) -> tuple[str, str]:
    """(events per second, bad ratio) expressions over window ``w``."""
    by = b.by("model")
    if sli.key == "errors":
        reasons = "|".join(b["slo"]["slis"]["errors"]["finish_reasons"])
        total = f"sum {by} (rate({b.sel('llm_requests_total')}[{w}]))"
        bad = f"sum {by} (rate({b.sel('llm_requests_total', regex('finish_reason', reasons))}[{w}]))"
        ratio = f"({bad} or {total} * 0)\n/\n({total} > 0)"
        return total, ratio
    metric = "llm_time_to_first_token_seconds" if sli.key == "ttft" else "llm_inter_token_latency_seconds"
    assert sli.threshold is not None
    total = f"sum {by} (rate({b.sel(metric + '_count')}[{w}]))"
    good = f"sum {by} (rate({b.sel(metric + '_bucket', eq('le', le(sli.threshold)))}[{w}]))"
    ratio = f"({total} - {good})\n/\n({total} > 0)"
    return total, ratio


def _autoscaling(b: Bundle) -> list[Rule]:
    from .autoscaling import rules  # imports Rule from here

    return rules(b)


def groups(b: Bundle) -> list[tuple[str, str | None, list[Rule]]]:
    """Rule groups: (name, interval or None, rules)."""
    w = b.rate_window
    by, by_le = b.by("model"), b.by("model", "le")
    inf: list[Rule] = [
        Rule(f"model:llm_requests:rate{w}", f"sum {by} (rate({b.sel('llm_requests_total')}[{w}]))"),
        Rule(
            f"model_finish_reason:llm_requests:rate{w}",
            f"sum {b.by('model', 'finish_reason')} (rate({b.sel('llm_requests_total')}[{w}]))",
        ),
        Rule(f"model:llm_prompt_tokens:rate{w}", f"sum {by} (rate({b.sel('llm_prompt_tokens_total')}[{w}]))"),
        Rule(f"model:llm_generation_tokens:rate{w}", f"sum {by} (rate({b.sel('llm_generation_tokens_total')}[{w}]))"),
        Rule(f"model:llm_tokens:rate{w}", f"model:llm_prompt_tokens:rate{w} + model:llm_generation_tokens:rate{w}"),
        Rule(
            f"model:llm_prefix_cache_queried_tokens:rate{w}",
            f"sum {by} (rate({b.sel('llm_prefix_cache_queried_tokens_total')}[{w}]))",
        ),
        Rule(
            f"model:llm_prefix_cache_hit_tokens:rate{w}",
            f"sum {by} (rate({b.sel('llm_prefix_cache_hit_tokens_total')}[{w}]))",
        ),
        Rule("model:llm_requests_running:sum", f"sum {by} ({b.sel('llm_requests_running')})"),
        Rule("model:llm_requests_waiting:sum", f"sum {by} ({b.sel('llm_requests_waiting')})"),
        Rule("model:llm_kv_cache_usage_ratio:max", f"max {by} ({b.sel('llm_kv_cache_usage_ratio')})"),
        Rule("model:llm_model_instances:count", f"count {by} ({b.sel('llm_model_info')})"),
    ]
    for h in HISTOGRAMS:
        inf += [
            Rule(f"model_le:{h}_bucket:rate{w}", f"sum {by_le} (rate({b.sel(h + '_bucket')}[{w}]))"),
            Rule(f"model:{h}_count:rate{w}", f"sum {by} (rate({b.sel(h + '_count')}[{w}]))"),
            Rule(f"model:{h}_sum:rate{w}", f"sum {by} (rate({b.sel(h + '_sum')}[{w}]))"),
        ]
    slo_rules: list[Rule] = []
    period = str(b["slo"]["period"])
    for sli in slis(b):
        for win in (*SLI_WINDOWS, period):
            total, ratio = _sli_exprs(b, sli, win)
            slo_rules.append(Rule(sli.events_rule(win), total))
            slo_rules.append(Rule(sli.ratio_rule(win), ratio))
        slo_rules.append(Rule(sli.budget_rule(period), f"1 - {sli.ratio_rule(period)} / {1 - sli.objective:.6g}"))
    gpu_on = b.on("instance")
    cost: list[Rule] = [
        Rule(
            f"model:llm_token_cost_dollars:rate{w}",
            f"model:llm_prompt_tokens:rate{w}\n  * on (model) group_left ()"
            f" max by (model) ({b.sel('llm_pricing_prompt_token_dollars')})\n"
            f"+\nmodel:llm_generation_tokens:rate{w}\n  * on (model) group_left ()"
            f" max by (model) ({b.sel('llm_pricing_generation_token_dollars')})",
        ),
        # GPUs of the pod (same job and instance) that serves the model; a pod serving two
        # models counts its GPUs for both.
        Rule(
            "instance_model:llm_gpus:count",
            f"group {b.by('instance', 'model')} ({b.sel('llm_model_info')})\n"
            f"  * {gpu_on} group_left ()\ncount {b.by('instance')} ({b.sel('llm_gpu_info')})",
        ),
        Rule(
            "model:llm_gpu_cost_dollars_per_second:sum",
            f"sum {by} (instance_model:llm_gpus:count)\n  * on () group_left ()"
            f" max ({b.sel('llm_pricing_gpu_second_dollars')})",
        ),
        Rule(
            "model:llm_cost_dollars_per_second:sum",
            f"(model:llm_token_cost_dollars:rate{w} + model:llm_gpu_cost_dollars_per_second:sum)\n"
            f"or model:llm_token_cost_dollars:rate{w}\nor model:llm_gpu_cost_dollars_per_second:sum",
        ),
        Rule(
            "model:llm_cost_dollars_per_million_tokens:ratio",
            f"model:llm_cost_dollars_per_second:sum / (model:llm_tokens:rate{w} > 0) * 1e6",
        ),
        Rule(
            "job:llm_gpu_cost_dollars_per_second:sum",
            f"count {b.by()} ({b.sel('llm_gpu_info')})\n  * on () group_left ()"
            f" max ({b.sel('llm_pricing_gpu_second_dollars')})",
        ),
        Rule(
            "job:llm_cost_dollars_per_second:sum",
            f"(sum {b.by()} (model:llm_token_cost_dollars:rate{w}) + job:llm_gpu_cost_dollars_per_second:sum)\n"
            f"or sum {b.by()} (model:llm_token_cost_dollars:rate{w})\nor job:llm_gpu_cost_dollars_per_second:sum",
        ),
        Rule("job:llm_gpu_energy_joules:rate" + w, f"sum {b.by()} (rate({b.sel('llm_gpu_energy_joules_total')}[{w}]))"),
    ]
    an = b["anomaly"]
    offsets = " or\n".join(
        f'label_replace(model:llm_requests:rate1h offset {d}d, "offset", "{d}d", "", "")'
        for d in range(1, int(an["baseline_days"]) + 1)
    )
    anomaly: list[Rule] = [
        Rule("model:llm_requests:rate1h", f"sum {by} (rate({b.sel('llm_requests_total')}[1h]))"),
        Rule("model:llm_requests:rate1h_baseline_mean", f"avg without (offset) (\n{offsets}\n)"),
        Rule("model:llm_requests:rate1h_baseline_stddev", f"stddev without (offset) (\n{offsets}\n)"),
        Rule("model:llm_requests:rate1h_baseline_days", f"count without (offset) (\n{offsets}\n)"),
    ]
    _ = seconds  # re-exported helper for callers
    from .agent_rules import rules as agent_rules

    agents = [Rule(record, expr) for record, expr in agent_rules(b)]
    return [
        ("llm-exporter.inference.recording", None, inf),
        ("llm-exporter.slo.recording", None, slo_rules),
        ("llm-exporter.cost.recording", None, cost),
        ("llm-exporter.anomaly.recording", None, anomaly),
        ("llm-exporter.agents.recording", None, agents),
        ("llm-exporter.autoscaling.recording", None, _autoscaling(b)),
        ("llm-exporter.drift.recording", None, [Rule(r, e) for r, e in drift_rules(b)]),
    ]
