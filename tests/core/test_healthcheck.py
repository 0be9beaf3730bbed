"""`llm-exporter healthcheck` (the image's HEALTHCHECK) against real exporter processes.

The container test (tests/deploy/test_image.py) runs it inside the image; here the parsing of
the server's flags and the TLS / basic auth cases are covered on the host.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest
from certs import make_pki
from exporter_proc import run_exporter
from llm_exporter.healthcheck import ServerFlags, check, find_server, is_server_argv, parse_server_flags
from support import free_port

QUIET = "gpu:\n  enabled: false\n"


@pytest.mark.parametrize(
    ("argv", "env", "want"),
    [
        (["llm-exporter"], {}, ServerFlags(":10556", None)),
        (["llm-exporter", "--web.listen-address=:9100"], {}, ServerFlags(":9100", None)),
        (
            ["llm-exporter", "--web.listen-address", "[::1]:9", "--web.config.file", "w.yml"],
            {},
            ServerFlags("[::1]:9", "w.yml"),
        ),
        (["llm-exporter", "--web.listen-address=:1", "--web.listen-address=:2"], {}, ServerFlags(":2", None)),
        (
            ["llm-exporter"],
            {"LLM_EXPORTER_WEB_LISTEN_ADDRESS": ":7", "LLM_EXPORTER_WEB_CONFIG_FILE": "/w"},
            ServerFlags(":7", "/w"),
        ),
        (
            ["llm-exporter", "--web.listen-address=:1"],
            {"LLM_EXPORTER_WEB_LISTEN_ADDRESS": ":7"},
            ServerFlags(":1", None),
        ),
        # `serve` uses its own flags, not the group's (click): the group's :1 is not listened on.
        (["llm-exporter", "--web.listen-address=:1", "serve", "--web.listen-address=:3"], {}, ServerFlags(":3", None)),
        (["llm-exporter", "--web.listen-address=:1", "serve"], {}, ServerFlags(":10556", None)),
    ],
)
def test_parse_server_flags(argv: list[str], env: dict[str, str], want: ServerFlags) -> None:
    assert parse_server_flags(argv, env) == want


def test_is_server_argv() -> None:
    assert is_server_argv(["/opt/llm-exporter/bin/llm-exporter", "--config.file=x"])
    assert is_server_argv(["/opt/llm-exporter/bin/python", "/opt/llm-exporter/bin/llm-exporter", "serve"])
    assert is_server_argv(["python", "-m", "llm_exporter", "--web.listen-address=:1"])
    assert not is_server_argv(["llm-exporter", "healthcheck"])
    assert not is_server_argv(["/opt/llm-exporter/bin/python", "-m", "llm_exporter.healthcheck"])
    assert not is_server_argv(["llm-exporter", "scrape-once"])
    assert not is_server_argv(["python", "-c", "import time; time.sleep(9)"])
    assert not is_server_argv([])


def test_follows_a_real_server_with_tls_and_basic_auth(tmp_path: Path) -> None:
    """Flags read from the process's /proc entry; a relative web config resolves in its cwd."""
    make_pki(tmp_path)
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {tmp_path}/server.crt\n  key_file: {tmp_path}/server.key\n"
        f"basic_auth_users:\n  prom: '{hashed}'\n"
    )
    with run_exporter(QUIET, tmp_path, args=("--web.config.file=../web.yml",), plain_http=False) as exp:
        proc = tmp_path / "proc"
        proc.mkdir()
        (proc / "1").symlink_to(f"/proc/{os.getpid()}")  # a process that is not the exporter
        (proc / "4242").symlink_to(f"/proc/{exp.proc.pid}")
        found = find_server(proc)
        assert found is not None
        flags, cwd = found
        assert flags == ServerFlags(exp.address, "../web.yml")
        healthy, why = check(flags, cwd)
        assert healthy, why
        assert why.startswith(f"https://{exp.address}/-/healthy: ")
        # Without the web config the probe speaks plain HTTP to a TLS port: unhealthy.
        assert not check(ServerFlags(exp.address))[0]


def test_cli_exit_status(tmp_path: Path) -> None:
    with run_exporter(QUIET, tmp_path) as exp:
        ok = subprocess.run(
            [sys.executable, "-m", "llm_exporter", "healthcheck", f"--web.listen-address={exp.address}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert ok.returncode == 0 and ok.stdout.startswith("healthy: "), ok.stdout + ok.stderr
        module = subprocess.run(
            [sys.executable, "-m", "llm_exporter.healthcheck", f"--web.listen-address={exp.address}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert module.returncode == 0 and module.stdout == ok.stdout, module.stdout + module.stderr
    closed = subprocess.run(
        [sys.executable, "-m", "llm_exporter", "healthcheck", f"--web.listen-address=127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert closed.returncode == 1 and closed.stdout.startswith("unhealthy: "), closed.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "llm_exporter", "healthcheck", "--web.listen-address=nonsense"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 1 and "invalid listen address" in bad.stdout, bad.stdout


def test_flags_count_when_environ_is_unreadable(tmp_path: Path) -> None:
    """Another user's environ (or cwd) cannot be read: the command line still gives the flags."""
    for pid, argv in (("1", ["python", "-c", "pass"]), ("5", ["llm-exporter", "--web.listen-address=:9100"])):
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    assert find_server(tmp_path) == (ServerFlags(":9100", None), None)
