"""Prices from the config as gauges; recording rules turn them into dollars.

Keeping prices as series (not baked into rules) means a price change reprices history
only from the moment it is deployed, and dashboards can show what was configured.
"""

from __future__ import annotations

from ..config import Config, PricingConfig
from ..metricset import MetricSet
from ..scrape import Collector, Deadline
from .base import BaseCollector


class PricingCollector(BaseCollector[PricingConfig]):
    """Emits the configured token and GPU prices."""

    name = "pricing"

    def __init__(self, config: PricingConfig) -> None:
        super().__init__(config, key="pricing")

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        for price in self.config.models:
            labels = {"model": price.model}
            out.add("llm_pricing_prompt_token_dollars", price.prompt_per_million / 1e6, labels)
            out.add("llm_pricing_generation_token_dollars", price.generation_per_million / 1e6, labels)
        if self.config.gpu_per_hour is not None:
            out.add("llm_pricing_gpu_second_dollars", self.config.gpu_per_hour / 3600.0)


def build(config: Config) -> list[Collector]:
    p = config.pricing
    if not p.models and p.gpu_per_hour is None:
        return []
    return [PricingCollector(p)]
