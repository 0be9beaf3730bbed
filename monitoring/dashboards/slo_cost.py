"""The SLO and cost dashboard: error budgets, burn rates and dollars per model."""

from __future__ import annotations

from typing import Any

from ..bundle import Bundle, le
from ..matchers import JOB, MODEL, selector
from ..recording import slis
from .document import dashboard
from .panels import Board


def slo_cost(b: Bundle) -> dict[str, Any]:
    s = selector(JOB, MODEL)
    w = b.rate_window
    period = str(b["slo"]["period"])
    x = Board(b)
    for sli in slis(b):
        budget = 1 - sli.objective
        thr = f" under {sli.threshold:g} s (bucket le={le(sli.threshold)})" if sli.threshold is not None else ""
        x.row(f"{sli.title} SLO: objective {sli.objective:g}{thr}")
        x.ts(
            "Error budget remaining",
            f"Share of the {period} error budget left (1 - bad ratio / budget).",
            [(f"{sli.budget_rule(period)}{s}", "{{model}}")],
            "percentunit",
            w=8,
            thresholds=[("red", None), ("orange", 0.25), ("green", 0.5)],
        )
        x.ts(
            "Burn rate by window",
            "Bad-event ratio divided by the budget, per window; 14.4 and 6 page, 3 and 1 "
            "ticket when the short window agrees.",
            [
                (f"{sli.ratio_rule(win)}{s} / {budget:.6g}", f"{{{{model}}}} {win}")
                for win in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
            ],
            "short",
            w=10,
        )
        x.ts(
            "Events per second",
            "Events the SLI counts (requests, first tokens or inter-token gaps).",
            [(f"{sli.events_rule('5m')}{s}", "{{model}}")],
            "short",
            w=6,
        )
    x.row("Cost")
    x.ts(
        "Dollars per hour by model",
        "Token cost plus GPU cost per hour, from the configured prices.",
        [(f"model:llm_cost_dollars_per_second:sum{s} * 3600", "{{model}}")],
        "currencyUSD",
        w=8,
    )
    x.ts(
        "Dollars per million tokens by model",
        "Cost over prompt + generated tokens.",
        [(f"model:llm_cost_dollars_per_million_tokens:ratio{s}", "{{model}}")],
        "currencyUSD",
        w=8,
    )
    x.ts(
        "Token and GPU cost per hour",
        "Where the money goes: token prices or GPU time.",
        [
            (f"model:llm_token_cost_dollars:rate{w}{s} * 3600", "{{model}} tokens"),
            (f"model:llm_gpu_cost_dollars_per_second:sum{s} * 3600", "{{model}} GPUs"),
        ],
        "currencyUSD",
        w=8,
    )
    budget = float(b["cost"]["daily_budget_dollars"])
    x.stat(
        "Spend over the last 24 hours",
        f"Average cost rate over 1d times 86400; budget {budget:g} dollars.",
        f"sum(avg_over_time(job:llm_cost_dollars_per_second:sum{selector(JOB)}[1d])) * 86400",
        "currencyUSD",
        w=8,
        thresholds=[("green", None), ("red", budget)],
    )
    x.stat(
        "Current dollars per hour",
        "All models and GPUs.",
        f"sum(job:llm_cost_dollars_per_second:sum{selector(JOB)}) * 3600",
        "currencyUSD",
        w=8,
    )
    x.stat(
        "GPU dollars per hour",
        "Every GPU the exporters see, at the configured price.",
        f"sum(job:llm_gpu_cost_dollars_per_second:sum{selector(JOB)}) * 3600",
        "currencyUSD",
        w=8,
    )
    return dashboard(
        b,
        "slo",
        "LLM / SLO and cost",
        "Error budgets and burn rates per model and window; dollars per hour and per million tokens.",
        x,
        ["job", "model"],
    )
