"""Every engine table, by ``server`` name, and the order ``server: auto`` tries them in."""

from __future__ import annotations

from .litellm import LITELLM
from .llamacpp import LLAMACPP
from .mapping import Engine
from .sglang import SGLANG
from .tgi import TGI
from .triton import TRITON
from .vllm import RAY_VLLM, VLLM

ENGINES: dict[str, Engine] = {e.server: e for e in (VLLM, SGLANG, TGI, TRITON, LLAMACPP, LITELLM)}
# Detection candidates: (table, name) — Ray Serve's vLLM spelling is read with the vLLM table renamed.
CANDIDATES: tuple[Engine, ...] = (VLLM, RAY_VLLM, SGLANG, TGI, TRITON, LLAMACPP, LITELLM)

# Default ports for discovery (server: auto is used on each; Ollama and plain OpenAI APIs answer JSON).
DEFAULT_PORTS: tuple[int, ...] = (8000, 30000, 3000, 8080, 8002, 11434, 4000)
