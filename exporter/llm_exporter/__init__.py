"""llm-exporter: one Prometheus exporter for LLM inference servers, NVIDIA GPUs and agent queues."""

__version__ = "0.1.0"
