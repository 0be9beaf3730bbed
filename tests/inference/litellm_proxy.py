"""A real LiteLLM proxy (``litellm[proxy]`` from PyPI) in front of the real llama.cpp server.

``scripts/build-engine-env.sh litellm`` installs it once into its own venv outside the repository
(scripts/test.sh runs it and exports ``LITELLM_PYTHON``). The proxy runs with
``callbacks: ["prometheus"]``, a master key, no database, LiteLLM's bundled cost map (never
fetched) and fixed prices for the test model, so its spend is known exactly.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from real_engines import engine_python
from support import free_port, stop_process, wait_process_ready

MASTER_KEY = "sk-llm-exporter-test-master"
MODEL = "smollm2"  # the proxy's model name for the llama.cpp deployment
BROKEN = "broken"  # a deployment whose upstream port is closed: every call fails (5xx)
PROMPT_PRICE = 1e-6  # dollars per prompt token (model_info of the deployment)
GENERATION_PRICE = 2e-6
TAG_PREFIX = "tag_agent_"  # custom_prometheus_tags "agent-<name>" become labels tag_agent_<name>
TAGGED_AGENTS = ("planner", "coder", "critic")


@dataclass
class Proxy:
    """A running proxy: base URL, master key, log file."""

    url: str
    key: str
    log: Path

    def post(self, path: str, body: dict[str, Any], timeout: float = 120) -> tuple[int, Any]:
        """POST JSON with the key: (status, parsed body); a streamed answer is its list of events."""
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                if body.get("stream"):
                    return resp.status, _events(resp)
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def metrics(self, key: bool = True) -> str:
        headers = {"Authorization": f"Bearer {self.key}"} if key else {}
        req = urllib.request.Request(self.url + "/metrics/", headers=headers)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read().decode()


def _events(resp: Any) -> list[dict[str, Any]]:
    events = []
    for raw in resp:
        line = raw.decode().strip()
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            events.append(json.loads(line[5:]))
    return events


def proxy_config(backend: str, backend_model: str, require_auth: bool) -> dict[str, Any]:
    """The proxy's config.yaml: the llama.cpp deployment, a broken one, Prometheus and agent labels."""
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    prices = {"input_cost_per_token": PROMPT_PRICE, "output_cost_per_token": GENERATION_PRICE}
    return {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {"model": f"openai/{backend_model}", "api_base": backend + "/v1", "api_key": "none"},
                "model_info": prices,
            },
            {
                "model_name": BROKEN,
                "litellm_params": {"model": f"openai/{backend_model}", "api_base": dead, "api_key": "none"},
                "model_info": prices,
            },
        ],
        "litellm_settings": {
            "callbacks": ["prometheus"],
            "require_auth_for_metrics_endpoint": require_auth,
            # end_user (the request's `user`) is "None" on Prometheus series unless this is on.
            "enable_end_user_cost_tracking_prometheus_only": True,
            "custom_prometheus_metadata_labels": ["metadata.agent"],
            "custom_prometheus_tags": [f"agent-{a}" for a in TAGGED_AGENTS],
            "num_retries": 0,
            "request_timeout": 60,
        },
        "router_settings": {"num_retries": 0, "allowed_fails": 1000},
        "general_settings": {"master_key": MASTER_KEY},
    }


@contextlib.contextmanager
def run_litellm(workdir: Path, backend: str, backend_model: str, require_auth: bool = True) -> Iterator[Proxy]:
    """Start the proxy on a free loopback port in front of ``backend``; stop it (SIGTERM) afterwards."""
    python = engine_python("litellm")
    config = workdir / "litellm.yaml"
    config.write_text(yaml.safe_dump(proxy_config(backend, backend_model, require_auth)))
    port = free_port()
    log = workdir / "litellm.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "DATABASE_URL", "OPENAI_"))},
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # never fetch the cost map from the network
        "LITELLM_LOG": "INFO",
        "NO_DOCS": "True",
    }
    cmd = [python, "-m", "litellm.proxy.proxy_cli", "--config", str(config), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--num_workers", "1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            with urllib.request.urlopen(url + "/health/liveliness", timeout=2) as r:
                return bool(r.status == 200)

        wait_process_ready(proc, ready, log, "the LiteLLM proxy to start", timeout=240)
        yield Proxy(url, MASTER_KEY, log)
    finally:
        stop_process(proc, timeout=30)
