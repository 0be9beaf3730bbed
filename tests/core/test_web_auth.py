"""Issue 10 items 7 and 8 against real sockets: basic auth spends one bcrypt of the users'
cost on every uncached check (unknown users and over-long passwords included) and bounds
concurrent bcrypt work; the whole exporter-toolkit web config schema is accepted, what can
be applied is applied, the rest is warned about; health and readiness answer probes without
credentials. Behaviour is asserted (calls, costs, concurrency, status codes), never time.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from certs import make_pki
from exporter_proc import run_exporter
from llm_exporter.config import load_config_text
from llm_exporter.runtime import Runtime
from llm_exporter.server import ExporterHTTPServer
from llm_exporter.webconfig import ignored_settings, load_web_config
from support import wait_for

QUIET = "gpu:\n  enabled: false\n"
PASSWORD = "correct horse"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def get(port: int, path: str, headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None) -> int:
    conn = (
        http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=context)
        if context
        else http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    )
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


class RecordingBcrypt:
    """Wraps the real ``bcrypt.checkpw``: records the cost of each hash used and the peak of
    concurrent calls; ``hold`` keeps each call in flight a little so overlap is observable."""

    def __init__(self, real: object, hold: float = 0.0) -> None:
        self.real, self.hold = real, hold
        self.costs: list[int] = []
        self.inflight = self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        with self.lock:
            self.inflight += 1
            self.peak = max(self.peak, self.inflight)
        try:
            if self.hold:
                time.sleep(self.hold)
            result = self.real(password, hashed)  # type: ignore[operator]
            self.costs.append(int(hashed.split(b"$")[2]))
            return result
        finally:
            with self.lock:
                self.inflight -= 1


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[ExporterHTTPServer]:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(5)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  prom: '{hashed}'\n")
    runtime = Runtime(None, load_config_text(QUIET))
    server = ExporterHTTPServer(("127.0.0.1", 0), runtime, load_web_config(web))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()
    runtime.close()


def test_unknown_user_and_overlong_password_cost_one_bcrypt_of_the_users_cost(
    auth_server: ExporterHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code: unknown users were checked against a cost-10 hash (users: 5), over-long
    passwords made bcrypt raise before any work: both answered at a different speed."""
    rec = RecordingBcrypt(bcrypt.checkpw)
    monkeypatch.setattr(bcrypt, "checkpw", rec)
    port = auth_server.server_address[1]
    assert get(port, "/metrics", basic("nobody", PASSWORD)) == 401
    assert get(port, "/metrics", basic("prom", "x" * 73)) == 401
    assert get(port, "/metrics", basic("prom", PASSWORD + "x" * 80)) == 401, "no truncation match"
    assert get(port, "/metrics", basic("prom", "wrong")) == 401
    assert rec.costs == [5, 5, 5, 5], "one bcrypt of the users' cost per check"
    assert get(port, "/metrics", basic("prom", PASSWORD)) == 200
    assert get(port, "/metrics", basic("prom", PASSWORD)) == 200
    assert rec.costs == [5, 5, 5, 5, 5], "a verified password is cached"


def test_password_spray_is_bounded_and_verified_scrapes_go_on(
    auth_server: ExporterHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = auth_server.server_address[1]
    assert get(port, "/metrics", basic("prom", PASSWORD)) == 200  # verified once, then cached
    rec = RecordingBcrypt(bcrypt.checkpw, hold=0.05)
    monkeypatch.setattr(bcrypt, "checkpw", rec)
    codes: list[int] = []
    stop = threading.Event()

    def spray(n: int) -> None:
        for i in range(4):
            codes.append(get(port, "/metrics", basic("prom" if i % 2 else f"u{n}", f"guess-{n}-{i}")))

    threads = [threading.Thread(target=spray, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    scrapes = []
    while any(t.is_alive() for t in threads) and not stop.is_set():
        scrapes.append(get(port, "/metrics", basic("prom", PASSWORD)))
    for t in threads:
        t.join(60)
    assert rec.peak <= 2, f"{rec.peak} bcrypt checks ran at once (bound: 2)"
    assert set(codes) <= {401, 429} and len(codes) == 64
    assert scrapes and set(scrapes) == {200}, "a verified user's scrapes never wait for the spray"


def test_probes_need_no_credentials_and_the_image_healthcheck_passes(tmp_path: Path) -> None:
    """Item 8 / issue 13: with basic auth on, /-/healthy and /-/ready answer 200 without
    credentials (Kubernetes httpGet probes cannot send a password without putting it in the
    pod spec); everything else is 401. The image's HEALTHCHECK command passes too."""
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  prom: '{hashed}'\n")
    with run_exporter(QUIET, tmp_path, args=(f"--web.config.file={web}",), plain_http=False) as exp:
        assert get(exp.port, "/-/healthy") == 200
        wait_for(lambda: get(exp.port, "/-/ready") == 200, 30, what="first collection")
        assert get(exp.port, "/metrics") == 401
        assert get(exp.port, "/") == 401
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "llm_exporter",
                "healthcheck",
                f"--web.listen-address=127.0.0.1:{exp.port}",
                f"--web.config.file={web}",
            ],
            timeout=30,
            capture_output=True,
            text=True,
        )
        assert res.returncode == 0, res.stderr


TOOLKIT_SAMPLE = """\
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  client_allowed_sans: [{san}]
  min_version: TLS13
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
  prefer_server_cipher_suites: true
  curve_preferences: [CurveP256, X25519]
http_server_config:
  http2: true
  headers:
    X-Content-Type-Options: nosniff
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
rate_limit:
  interval: 1h
  burst: {burst}
"""


def test_whole_toolkit_schema_is_accepted_applied_or_warned(tmp_path: Path) -> None:
    """Old code refused this file (unknown keys: exit 2)."""
    pki = make_pki(tmp_path)
    web = tmp_path / "web.yml"
    web.write_text(TOOLKIT_SAMPLE.format(san="prometheus.test", burst=3))
    with run_exporter(QUIET, tmp_path, args=(f"--web.config.file={web}",), plain_http=False) as exp:
        client = ssl.create_default_context(cafile=str(pki["ca"]))
        client.load_cert_chain(pki["client_crt"], pki["client_key"])
        conn = http.client.HTTPSConnection("127.0.0.1", exp.port, timeout=20, context=client)
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        assert resp.getheader("X-Content-Type-Options") == "nosniff"
        assert resp.getheader("Strict-Transport-Security") == "max-age=31536000"
        assert conn.sock is not None and conn.sock.version() == "TLSv1.3"
        conn.close()
        old = ssl.create_default_context(cafile=str(pki["ca"]))
        old.load_cert_chain(pki["client_crt"], pki["client_key"])
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises((ssl.SSLError, OSError)):
            get(exp.port, "/metrics", context=old)
        # rate_limit: 3 tokens, one per hour; probes are not counted.
        codes = [get(exp.port, "/metrics", context=client) for _ in range(3)]
        assert codes == [200, 200, 429]
        assert get(exp.port, "/-/healthy", context=client) == 200
        logs = exp.logs()
        for key in ("cipher_suites", "curve_preferences", "http2"):
            assert f"web config: http_server_config.{key}" in logs or f"tls_server_config.{key}" in logs, key
    plain = tmp_path / "plain.yml"
    plain.write_text("http_server_config:\n  headers: {X-Frame-Options: deny}\n")
    assert ignored_settings(load_web_config(plain)) == [], "nothing to warn about when no ignored key is set"


def test_client_allowed_sans_closes_other_clients(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    web = tmp_path / "web.yml"
    web.write_text(TOOLKIT_SAMPLE.format(san="someone-else.test", burst=0))
    runtime = Runtime(None, load_config_text(QUIET))
    server = ExporterHTTPServer(("127.0.0.1", 0), runtime, load_web_config(web))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = ssl.create_default_context(cafile=str(pki["ca"]))
        client.load_cert_chain(pki["client_crt"], pki["client_key"])
        with pytest.raises((ssl.SSLError, OSError, http.client.HTTPException)):
            get(server.server_address[1], "/metrics", context=client)
        web.write_text(TOOLKIT_SAMPLE.format(san="prom@example.test", burst=0))
        server.web = load_web_config(web)
        assert get(server.server_address[1], "/metrics", context=client) == 200
    finally:
        server.shutdown()
        server.server_close()
        runtime.close()
