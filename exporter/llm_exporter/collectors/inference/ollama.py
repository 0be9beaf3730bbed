"""Ollama has no Prometheus endpoint: read ``GET /api/ps`` (loaded models) and ``/api/version``.

Exports, per loaded model: ``llm_model_info`` (family, parameter size, quantization,
context length), ``llm_model_memory_bytes`` (``size``), ``llm_model_gpu_memory_bytes``
(``size_vram``; the VRAM share is their ratio) and ``llm_model_expiry_timestamp_seconds``.
No queue, running-request, token or KV-cache data exists in Ollama's APIs: those metrics
are absent (use the probe for latency).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...metricset import MetricSet
from ...scrape import TargetDown
from .mapping import Engine

MAX_MODELS = 1000

OLLAMA = Engine(
    server="ollama",
    model_labels=(),
    rules=(),  # no Prometheus endpoint: read through the JSON API below
    default_port=11434,
    title="Ollama",
    notes={
        "llm_model_memory_bytes": "✓ `/api/ps` size",
        "llm_model_gpu_memory_bytes": "✓ `/api/ps` size_vram",
        "llm_model_expiry_timestamp_seconds": "✓ `/api/ps` expires_at",
    },
    proof="JSON fixtures over HTTP",
)


def _expiry(raw: Any) -> float | None:
    if not isinstance(raw, str) or not raw:
        return None
    text = raw.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Go prints nanoseconds; Python accepts at most microseconds.
    if "." in text:
        head, _, frac = text.partition(".")
        digits = "".join(ch for ch in frac if ch.isdigit())
        text = head + "." + digits[:6] + frac[len(digits) :]
    try:
        ts = datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
    return ts if ts > 0 else None


def _num(raw: Any) -> float | None:
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def emit_ps(doc: Any, out: MetricSet, target: str) -> list[str]:
    """Turn an ``/api/ps`` document into samples; returns the model names."""
    if not isinstance(doc, dict) or not isinstance(doc.get("models", []), list):
        raise TargetDown("/api/ps did not return {'models': [...]}")
    names: list[str] = []
    for m in doc.get("models", [])[:MAX_MODELS]:
        if not isinstance(m, dict):
            continue
        name = str(m.get("name") or m.get("model") or "")
        if not name:
            continue
        names.append(name)
        lab = {"target": target, "model": name}
        raw_details = m.get("details")
        details = raw_details if isinstance(raw_details, dict) else {}
        info = {
            "target": target,
            "server": "ollama",
            "model": name,
            "family": str(details.get("family", "")),
            "parameter_size": str(details.get("parameter_size", "")),
            "quantization_level": str(details.get("quantization_level", "")),
            "context_length": str(m.get("context_length", "")),
        }
        out.add("llm_model_info", 1.0, info)
        out.add("llm_model_memory_bytes", _num(m.get("size")), lab)
        out.add("llm_model_gpu_memory_bytes", _num(m.get("size_vram")), lab)
        out.add("llm_model_expiry_timestamp_seconds", _expiry(m.get("expires_at")), lab)
    return names
