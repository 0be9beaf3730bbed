"""Session-wide real engines: each heavy server starts once per test session and is reused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from real_engines import Server, run_triton, run_vllm


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """vLLM (CPU build) on a tiny local random Llama: 2.6 GB RAM, 30-50 s to become ready."""
    with run_vllm(tmp_path_factory.mktemp("vllm")) as server:
        yield server


@pytest.fixture(scope="session")
def triton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Triton Inference Server (PyTriton) serving one Python function."""
    with run_triton(tmp_path_factory.mktemp("triton")) as server:
        yield server
