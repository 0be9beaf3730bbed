"""The HTTP surface of the real exporter process: routes, garbage, reload, auth, TLS."""

from __future__ import annotations

import base64
import gzip
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest
from certs import make_pki
from exporter_proc import Exporter, run_exporter
from llm_exporter.config import load_config_text
from llm_exporter.metricset import MetricSet
from llm_exporter.runtime import Runtime
from llm_exporter.scrape import Collection, Deadline, ScrapeEngine
from llm_exporter.server import ExporterHTTPServer
from support import free_port, wait_for

QUIET = "gpu:\n  enabled: false\n"
PRICED = QUIET + "pricing:\n  gpu_per_hour: 3.6\n"


def status(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None
) -> int:
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def raw(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(payload)
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Exporter:
    with run_exporter(PRICED, tmp_path_factory.mktemp("http")) as exp:
        yield exp  # type: ignore[misc]


def test_landing_page_links_metrics(exporter: Exporter) -> None:
    page = exporter.get("/")
    assert 'href="metrics"' in page and "llm-exporter" in page


def test_health_and_readiness(exporter: Exporter) -> None:
    assert status(exporter.url + "/-/healthy") == 200
    assert status(exporter.url + "/-/ready") == 200


def test_metrics_text_openmetrics_and_gzip(exporter: Exporter) -> None:
    text = exporter.get("/metrics")
    assert "llm_exporter_build_info{" in text
    assert "llm_pricing_gpu_second_dollars 0.001" in text
    om = exporter.get("/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.rstrip().endswith("# EOF")
    req = urllib.request.Request(exporter.url + "/metrics", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        assert b"llm_exporter_build_info" in gzip.decompress(r.read())


def test_unknown_paths_and_methods(exporter: Exporter) -> None:
    assert status(exporter.url + "/nope") == 404
    assert status(exporter.url + "/metrics/../etc/passwd") == 404
    assert status(exporter.url + "/metrics", method="DELETE") == 405
    assert status(exporter.url + "/-/reload", method="GET") == 404, "lifecycle API off by default"
    assert status(exporter.url + "/-/reload", method="POST") == 404
    assert status(exporter.url + "/metrics", method="HEAD") == 200


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", b"431"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", b"501"),
        (b"GET /metrics HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(200)) + b"\r\n", b"431"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64) + b"\r\n\r\n", b"400"),
    ],
    ids=["bad-request-line", "huge-header", "huge-uri", "unknown-method", "too-many-headers", "tls-to-plain"],
)
def test_garbage_requests_get_4xx_and_server_survives(exporter: Exporter, payload: bytes, code: bytes) -> None:
    answer = raw(exporter.port, payload)
    assert answer.split(b" ", 2)[1] == code, answer[:200]
    assert exporter.proc.poll() is None
    assert status(exporter.url + "/metrics") == 200


def test_reload_rejects_bad_config_and_keeps_old(tmp_path: Path) -> None:
    with run_exporter(PRICED, tmp_path, args=("--web.enable-lifecycle",)) as exp:
        assert status(exp.url + "/-/reload", method="GET") == 405
        exp.config.write_text(PRICED + "inference:\n  - name: x\n    url: nope\n")
        assert status(exp.url + "/-/reload", method="POST") == 500
        text = exp.metrics()
        assert "llm_exporter_config_last_reload_successful 0.0" in text
        assert "llm_pricing_gpu_second_dollars 0.001" in text, "old config keeps running"
        assert "inference[0].url: not a URL" in exp.logs()
        exp.config.write_text(QUIET + "pricing:\n  gpu_per_hour: 7.2\n")
        exp.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "llm_pricing_gpu_second_dollars 0.002" in exp.metrics(), 10)
        assert "llm_exporter_config_last_reload_successful 1.0" in exp.metrics()


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        (tmp_path / "c.yml").write_text(QUIET)
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "llm_exporter",
                f"--config.file={tmp_path / 'c.yml'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert res.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in res.stderr


def test_basic_auth(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$")
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  prom: '{hashed}'\n")
    with run_exporter(QUIET, tmp_path, args=(f"--web.config.file={web}",), plain_http=False) as exp:

        def auth(user: str, pw: str) -> dict[str, str]:
            return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}

        assert status(exp.url + "/metrics") == 401
        assert status(exp.url + "/metrics", headers=auth("prom", "wrong")) == 401
        assert status(exp.url + "/metrics", headers=auth("nobody", "correct horse")) == 401
        assert status(exp.url + "/metrics", headers={"Authorization": "Basic !!!"}) == 401
        assert status(exp.url + "/metrics", headers=auth("prom", "correct horse")) == 200
        logs = exp.logs()
        assert "correct horse" not in logs and "wrong" not in logs and hashed not in logs


def test_tls_with_required_client_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    web = tmp_path / "web.yml"
    web.write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
    )
    with run_exporter(QUIET, tmp_path, args=(f"--web.config.file={web}",), plain_http=False) as exp:
        url = f"https://127.0.0.1:{exp.port}/metrics"
        anonymous = ssl.create_default_context(cafile=str(pki["ca"]))
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            status(url, context=anonymous)
        client = ssl.create_default_context(cafile=str(pki["ca"]))
        client.load_cert_chain(pki["client_crt"], pki["client_key"])
        assert status(url, context=client) == 200
        # A plain-HTTP client is refused, and the server keeps serving TLS clients.
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            status(f"http://127.0.0.1:{exp.port}/metrics")
        assert status(url, context=client) == 200


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", "cannot load certificate or key"),
        ("basic_auth_users:\n  prom: plaintext\n", "basic_auth_users.prom: not a bcrypt hash"),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
            "tls_server_config.client_ca_file: required when client_auth_type is RequireAndVerifyClientCert",
        ),
        ("tls_config: {}\n", "tls_config: unknown key"),
    ],
)
def test_bad_web_config_fails_at_start(tmp_path: Path, web: str, message: str) -> None:
    (tmp_path / "web.yml").write_text(web)
    (tmp_path / "c.yml").write_text(QUIET)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "llm_exporter",
            f"--config.file={tmp_path / 'c.yml'}",
            f"--web.config.file={tmp_path / 'web.yml'}",
            f"--web.listen-address=127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2, res.stderr
    assert message in res.stderr


class Blocking:
    """A collector that holds its scrape until released."""

    name, key, target = "inference", "inference/slow", "slow"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        self.entered.set()
        self.release.wait(20)


def test_max_requests_caps_concurrent_scrapes() -> None:
    runtime = Runtime(None, load_config_text(QUIET))
    blocking = Blocking()
    runtime.engine = ScrapeEngine([blocking], min_interval=0)
    server = ExporterHTTPServer(("127.0.0.1", 0), runtime, max_requests=1)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        first: list[int] = []
        t = threading.Thread(target=lambda: first.append(status(f"http://127.0.0.1:{port}/metrics")))
        t.start()
        assert blocking.entered.wait(10)
        assert status(f"http://127.0.0.1:{port}/metrics") == 503
        assert status(f"http://127.0.0.1:{port}/-/healthy") == 200, "health checks are not scrapes"
        blocking.release.set()
        t.join(20)
        assert first == [200]
    finally:
        server.shutdown()
        server.server_close()


def test_scrape_deadline_comes_from_prometheus_header() -> None:
    runtime = Runtime(None, load_config_text(QUIET + "scrape:\n  timeout: 10s\n  timeout_offset: 500ms\n"))
    assert runtime.scrape_timeout("3") == 2.5
    assert runtime.scrape_timeout("30") == 9.5, "capped by scrape.timeout"
    assert runtime.scrape_timeout(None) == 9.5
    assert runtime.scrape_timeout("soon") == 9.5
    assert runtime.scrape_timeout("0.2") == 0.05, "never below 50 ms"
    seen: list[float] = []
    real = runtime.engine.collect

    def record(timeout: float) -> Collection:
        seen.append(timeout)
        return real(timeout)

    runtime.engine.collect = record  # type: ignore[method-assign]
    server = ExporterHTTPServer(("127.0.0.1", 0), runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        assert status(url, headers={"X-Prometheus-Scrape-Timeout-Seconds": "4"}) == 200
        assert seen == [3.5]
    finally:
        server.shutdown()
        server.server_close()
