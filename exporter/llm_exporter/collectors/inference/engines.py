"""Every engine table, in the order ``server: auto`` tries them: the one source of truth.

Engine kinds (the config's ``server:`` values), default ports and discovery order, the
detection order of ``server: auto`` and the README / docs support matrix
(``llm_exporter.engine_docs``) all come from ``TABLES``. Adding an engine is one table in
its own module, listed here, plus its fixtures and its real-server test.
"""

from __future__ import annotations

from .litellm import LITELLM
from .llamacpp import LLAMACPP
from .mapping import Engine
from .ollama import OLLAMA
from .openai_compat import OPENAI
from .sglang import SGLANG
from .tgi import TGI
from .triton import TRITON
from .vllm import RAY_VLLM, VLLM

# Detection order: Prometheus tables first (most specific first), then the JSON APIs.
TABLES: tuple[Engine, ...] = (VLLM, RAY_VLLM, SGLANG, TGI, TRITON, LLAMACPP, LITELLM, OLLAMA, OPENAI)

ENGINES: dict[str, Engine] = {e.kind: e for e in TABLES}
# Tables read from a Prometheus endpoint, tried together on one body by ``server: auto``.
CANDIDATES: tuple[Engine, ...] = tuple(e for e in TABLES if e.rules)
# Tables read through a JSON API, tried in order when no Prometheus table matches.
JSON_APIS: tuple[str, ...] = tuple(e.kind for e in TABLES if not e.rules)
# Values of ``server:`` in the config.
SERVER_KINDS: tuple[str, ...] = (*ENGINES, "auto")
# Default ports for discovery, in table order (a port shared by two engines is tried once).
DEFAULT_PORTS: tuple[int, ...] = tuple(dict.fromkeys(e.default_port for e in TABLES if e.default_port))
