"""One source of truth for engines: kinds, ports, detection order, config values and docs."""

from __future__ import annotations

import re

import pytest
from http_upstream import fixture
from llm_exporter import engine_docs
from llm_exporter.collectors.inference import DiscoveryCollector
from llm_exporter.collectors.inference.engines import (
    CANDIDATES,
    DEFAULT_PORTS,
    ENGINES,
    JSON_APIS,
    SERVER_KINDS,
    TABLES,
)
from llm_exporter.config import ConfigError, DiscoveryConfig, load_config_text
from support import REPO
from test_inference_engines import scrape


def test_kinds_are_unique_and_every_one_is_a_config_value() -> None:
    kinds = [e.kind for e in TABLES]
    assert len(kinds) == len(set(kinds))
    assert SERVER_KINDS[-1] == "auto" and set(SERVER_KINDS[:-1]) == set(kinds)
    for kind in SERVER_KINDS:
        cfg = load_config_text(f"inference:\n  - name: a\n    url: http://h:1\n    server: {kind}\n")
        assert cfg.inference[0].server == kind
    with pytest.raises(ConfigError, match="must be one of 'vllm', 'ray_vllm'"):
        load_config_text("inference:\n  - name: a\n    url: http://h:1\n    server: tgi2\n")


def test_default_ports_come_from_the_tables() -> None:
    assert DEFAULT_PORTS == (8000, 8080, 30000, 3000, 8002, 4000, 11434)  # Ray and llama.cpp share 8080
    assert ENGINES["tgi"].default_port == 3000  # TGI launcher default (docs once said 8080)
    ports = DiscoveryCollector(DiscoveryConfig(enabled=True)).ports
    assert ports == DEFAULT_PORTS, "discovery.DEFAULT_PORTS must be the engine tables' default ports"
    for doc in ("README.md", "docs/inference.md"):
        text = (REPO / doc).read_text()
        block = text.split(engine_docs.PORTS_BEGIN, 1)[1].split(engine_docs.PORTS_END, 1)[0]
        for e in TABLES:
            if e.default_port:
                assert re.search(rf"{re.escape(e.title)}( / [^,]+)? {e.default_port}", block), (doc, e.kind)


def test_detection_order_is_table_order() -> None:
    assert [e.kind for e in CANDIDATES] == ["vllm", "ray_vllm", "sglang", "tgi", "triton", "llamacpp", "litellm"]
    assert JSON_APIS == ("ollama", "openai")  # tried after every Prometheus table


def test_ray_serve_is_a_kind_of_its_own_reporting_server_vllm() -> None:
    out, c = scrape(fixture("ray-vllm.prom"), "ray_vllm")
    assert c._detected is None  # explicit kind: no detection
    assert out.has("llm_target_info", software="vllm")
    auto, c = scrape(fixture("ray-vllm.prom"), "auto")
    assert c._detected == "ray_vllm"
    for name in out.names():
        assert out.series(name) == auto.series(name), name


def test_support_matrix_has_a_column_per_table_and_a_row_per_mapped_metric() -> None:
    table = engine_docs.matrix().splitlines()
    assert table[0] == "| metric | " + " | ".join(e.title for e in TABLES) + " |"
    rows = {line.split("|")[1].strip().strip("`"): line for line in table[3:]}
    for e in TABLES:
        for metric in e.metrics:
            assert metric in rows, (e.kind, metric)
    col = [e.kind for e in TABLES].index("triton") + 2
    assert "TensorRT-LLM families on payloads only" in table[2].split("|")[col]
    assert rows["llm_requests_running"].split("|")[[e.kind for e in TABLES].index("litellm") + 2].strip() == "✗"


def test_readme_and_docs_are_generated_from_the_tables() -> None:
    for doc in ("README.md", "docs/inference.md"):
        text = (REPO / doc).read_text()
        assert engine_docs.render(text) == text, f"{doc} is stale: run python scripts/generate.py"
    assert engine_docs.MATRIX_BEGIN in (REPO / "README.md").read_text()
