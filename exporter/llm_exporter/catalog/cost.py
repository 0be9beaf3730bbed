"""Prices from the config, as gauges that recording rules turn into dollars."""

from __future__ import annotations

from .spec import MetricSpec, metric

SPECS: tuple[MetricSpec, ...] = (
    # --- cost ------------------------------------------------------------------
    metric(
        "cost",
        "llm_pricing_prompt_token_dollars",
        "gauge",
        "Configured price of one prompt token of the model, in US dollars.",
        ("model",),
        "dollars",
    ),
    metric(
        "cost",
        "llm_pricing_generation_token_dollars",
        "gauge",
        "Configured price of one generated token of the model, in US dollars.",
        ("model",),
        "dollars",
    ),
    metric(
        "cost",
        "llm_pricing_gpu_second_dollars",
        "gauge",
        "Configured price of one GPU for one second, in US dollars.",
        (),
        "dollars",
    ),
)
