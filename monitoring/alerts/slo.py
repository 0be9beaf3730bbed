"""SLO alerts: multi-window, multi-burn-rate alerts on the error and latency SLIs."""

from __future__ import annotations

from ..bundle import Bundle
from ..recording import slis
from .model import Alert, Runbook


def burn_rate_alerts(b: Bundle) -> list[Alert]:
    """Multi-window burn-rate alerts, one per SLI and burn-rate tier."""
    out: list[Alert] = []
    names = {
        "errors": "LLMErrorBudgetBurn",
        "ttft": "LLMTimeToFirstTokenBudgetBurn",
        "inter_token": "LLMInterTokenLatencyBudgetBurn",
    }
    what = {
        "errors": "requests finishing with an error",
        "ttft": "requests whose first token took longer than the threshold",
        "inter_token": "output-token gaps longer than the threshold",
    }
    for sli in slis(b):
        name = names[sli.key]
        budget = 1 - sli.objective
        thr = f" (threshold {sli.threshold} s)" if sli.threshold is not None else ""
        for tier in b["slo"]["burn_rates"]:
            long_, short, factor = str(tier["long"]), str(tier["short"]), float(tier["factor"])
            limit = f"{factor * budget:.6g}"
            expr = (
                f"{sli.ratio_rule(long_)} > {limit}\n"
                f"and\n{sli.ratio_rule(short)} > {limit}\n"
                f"and\n{sli.events_rule(long_)} > {sli.floor:g}"
            )
            out.append(
                Alert(
                    name,
                    "slo",
                    expr,
                    str(tier["for"]),
                    str(tier["severity"]),
                    f"{sli.title} SLO of a model is burning its error budget too fast.",
                    f"Model {{{{ $labels.model }}}} (job {{{{ $labels.job }}}}): {what[sli.key]}{thr} are "
                    f"{{{{ $value | humanizePercentage }}}} over {long_} and still over {short}, "
                    f"{factor:g}x the {budget:.4g} budget of the {sli.objective:.4g} objective.",
                    Runbook(
                        f"The {sli.title.lower()} SLI of one model has burned error budget at {factor:g} times "
                        f"the sustainable rate over both the last {long_} and the last {short}. Critical tiers "
                        "(14.4x over 1h, 6x over 6h) exhaust a 30-day budget in days and page; warning tiers "
                        "(3x over 1d, 1x over 3d) open a ticket. The alert is quiet below the traffic floor "
                        f"of {sli.floor:g} events/s on the long window.",
                        f"{sli.ratio_rule(long_)} / {budget:.6g}",
                        (
                            "An engine overloaded beyond its KV cache (queueing inflates TTFT).",
                            "A bad deploy or model version; upstream errors (rejected requests, OOM).",
                            "A slow or lost GPU (thermal throttling, XID) under one replica.",
                            "A traffic surge beyond provisioned capacity.",
                        ),
                        (
                            "Open the SLO and cost dashboard; find which window and model burn.",
                            "Check LLM / Instance for the model's targets: waiting requests, KV cache, errors "
                            "by finish_reason.",
                            "Check GPU / Node for throttling or XID on the serving GPUs.",
                            "Roll back a recent change, add replicas, or shed load; then watch the short-window "
                            "ratio fall (the alert resolves within the short window).",
                        ),
                    ),
                    {"slo": sli.key, "long": long_, "short": short},
                )
            )
    return out
