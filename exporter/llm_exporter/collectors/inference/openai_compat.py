"""Any OpenAI-compatible API (hosted or local): only ``GET /v1/models`` is read.

Models become ``llm_model_info``; everything else about such a target comes from the
active probe (``probe:``). No default port: it is tried last by ``server: auto``.
"""

from __future__ import annotations

from .mapping import Engine

OPENAI = Engine(
    server="openai",
    model_labels=(),
    rules=(),  # no Prometheus endpoint
    title="OpenAI-compatible",
    notes={"llm_model_info": "✓ `/v1/models`"},
    proof="a local OpenAI-compatible test server",
)
