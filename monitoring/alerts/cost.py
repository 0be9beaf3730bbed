"""Cost alerts: spend over the daily budget."""

from __future__ import annotations

from ..bundle import Bundle
from .model import Alert, Runbook


def cost_alerts(b: Bundle) -> list[Alert]:
    """The daily budget alert."""
    out: list[Alert] = []
    add = out.append
    budget = float(b["cost"]["daily_budget_dollars"])
    add(
        Alert(
            "LLMCostOverDailyBudget",
            "cost",
            f"sum (avg_over_time(job:llm_cost_dollars_per_second:sum[1d])) * 86400 > {budget:g}",
            b.for_("LLMCostOverDailyBudget"),
            "warning",
            "LLM serving spent more than the daily budget in the last 24 hours.",
            'The last 24 hours cost {{ $value | printf "%.2f" }} dollars, over the daily budget of '
            f"{budget:g} dollars.",
            Runbook(
                "Token cost (prices per model) plus GPU cost (price per GPU-second), averaged over the last "
                "day and multiplied by 86400, exceeded the configured daily budget.",
                "sum (avg_over_time(job:llm_cost_dollars_per_second:sum[1d])) * 86400",
                (
                    "More traffic; a model with higher prices; more GPUs provisioned.",
                    "A runaway agent loop generating tokens.",
                ),
                (
                    "Open SLO and cost: find the model whose dollars/hour rose.",
                    "Check the agent pipeline for loops; rate-limit or scale down.",
                ),
            ),
        )
    )
    return out
