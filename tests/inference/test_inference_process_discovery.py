"""Served-process metrics (psutil on a real child process) and discovery on local ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
from http_upstream import Upstream, fixture, send
from llm_exporter.collectors.inference import DiscoveryCollector, build
from llm_exporter.collectors.inference.discovery import open_ports
from llm_exporter.config import DiscoveryConfig, load_config_text
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import Deadline
from support import free_port, wait_port

SERVER = """
import http.server, sys, threading
blob = bytearray(64 * 1024 * 1024)  # resident memory we can see
for i in range(0, len(blob), 4096):
    blob[i] = 1
threads = [threading.Thread(target=threading.Event().wait, daemon=True) for _ in range(3)]
[t.start() for t in threads]
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


def _process_metrics(config_text: str) -> MetricSet:
    cfg = load_config_text(config_text)
    procs = [c for c in build(cfg) if c.name == "process"]
    assert len(procs) == 1 and procs[0].key == "process/srv" and procs[0].target is None
    out = MetricSet()
    procs[0].collect(out, Deadline(5))
    return out


def test_served_process_by_port_and_by_pid_file(tmp_path: Path) -> None:
    port = free_port()
    child = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        wait_port(port)
        (tmp_path / "srv.pid").write_text(f"{child.pid}\n")
        expected_threads = psutil.Process(child.pid).num_threads()
        for section in ("{from_port: true}", f"{{pid_file: {tmp_path / 'srv.pid'}}}"):
            out = _process_metrics(
                f"inference:\n  - name: srv\n    url: http://127.0.0.1:{port}\n"
                f"    server: vllm\n    process: {section}\n"
            )
            lab = {"target": "srv"}
            assert out.get("llm_process_resident_memory_bytes", lab) > 64 * 1024 * 1024
            assert out.get("llm_process_threads", lab) == expected_threads
            assert out.get("llm_process_open_fds", lab) >= 4  # stdio + listening socket
            assert out.get("llm_process_cpu_seconds_total", lab) >= 0
    finally:
        child.kill()
        child.wait()


def test_missing_process_leaves_metrics_absent(tmp_path: Path) -> None:
    port = free_port()
    out = _process_metrics(
        f"inference:\n  - name: srv\n    url: http://127.0.0.1:{port}\n"
        f"    process: {{pid_file: {tmp_path / 'nope.pid'}}}\n"
    )
    assert len(out) == 0
    out = _process_metrics(f"inference:\n  - name: srv\n    url: http://127.0.0.1:{port}\n    process: {{}}\n")
    assert len(out) == 0
    assert os.getpid()  # the exporter itself is unaffected


def test_build_returns_one_reader_per_target_plus_probe_and_process() -> None:
    cfg = load_config_text("""
inference:
  - {name: a, url: "http://127.0.0.1:8000", server: vllm, probe: {model: m}, process: {from_port: true}}
  - {name: b, url: "http://127.0.0.1:8080", server: llamacpp}
discovery: {enabled: true}
""")
    got = sorted((c.name, c.key, c.target) for c in build(cfg))
    assert got == [
        ("inference", "inference/a", "a"),
        ("inference", "inference/b", "b"),
        ("probe", "probe/a", None),
        ("process", "process/a", None),
    ]
    no_targets = build(load_config_text("discovery: {enabled: true}\n"))
    assert [(c.name, c.key) for c in no_targets] == [("inference", "inference/discovery")]
    assert build(load_config_text("discovery: {enabled: false}\n")) == []


def test_discovery_reads_what_answers_and_ignores_the_rest() -> None:
    ps = b'{"models":[{"name":"llama3.2:3b","size":100,"size_vram":50}]}'
    closed = free_port()
    with (
        Upstream({"/metrics": send(200, fixture("vllm-v1.prom"))}) as vllm,
        Upstream(
            {
                "/api/ps": send(200, ps, "application/json"),
                "/api/version": send(200, b'{"version":"0.12.6"}', "application/json"),
            }
        ) as oll,
        Upstream({"/": send(200, b"<html>hello</html>", "text/html")}) as web,
    ):
        d = DiscoveryCollector(
            DiscoveryConfig(enabled=True, host="127.0.0.1", timeout=1.0), ports=(vllm.port, oll.port, web.port, closed)
        )
        out = MetricSet()
        d.collect(out, Deadline(10))
    assert out.get("llm_target_up", {"target": f"127.0.0.1:{vllm.port}"}) == 1.0
    assert out.get("llm_target_up", {"target": f"127.0.0.1:{oll.port}"}) == 1.0
    assert not out.has("llm_target_up", target=f"127.0.0.1:{web.port}")  # not an inference server
    assert not out.has("llm_target_up", target=f"127.0.0.1:{closed}")
    assert (
        out.get(
            "llm_requests_running", {"target": f"127.0.0.1:{vllm.port}", "model": "meta-llama/Llama-3.1-8B-Instruct"}
        )
        == 7
    )
    assert out.get("llm_model_gpu_memory_bytes", {"target": f"127.0.0.1:{oll.port}", "model": "llama3.2:3b"}) == 50
    assert out.has("llm_target_info", target=f"127.0.0.1:{vllm.port}", software="vllm")


def test_discovery_tries_every_port_at_once_on_every_address_of_the_host() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port, closed = listener.getsockname()[1], free_port()
        assert open_ports("127.0.0.1", (closed, port), 1.0) == {port}
        # "localhost" may resolve to ::1 first: the port still counts, through 127.0.0.1
        assert open_ports("localhost", (port, closed), 1.0) == {port}
