"""Run the real ``llm-exporter`` as a subprocess on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from support import free_port, stop_process, wait_process_ready


class Exporter:
    """Handle on a running exporter process."""

    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path, config: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.address = f"127.0.0.1:{port}"
        self.proc = proc
        self.log = log
        self.config = config

    def get(self, path: str = "/metrics", headers: dict[str, str] | None = None, timeout: float = 30) -> str:
        req = urllib.request.Request(self.url + path, headers=headers or {})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read().decode()

    def metrics(self) -> str:
        return self.get("/metrics")

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def run_exporter(
    config_text: str | None,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    plain_http: bool = True,
) -> Iterator[Exporter]:
    """Start ``llm-exporter`` with ``config_text`` (None = embedded default) and wait until ready.

    With ``plain_http=False`` (TLS or basic auth in ``args``) only the port is awaited.
    """
    home = tmp_path / f"exporter-{free_port()}"
    home.mkdir(parents=True)
    config = home / "config.yml"
    cmd = [sys.executable, "-m", "llm_exporter"]
    if config_text is not None:
        config.write_text(config_text)
        cmd.append(f"--config.file={config}")
    port = free_port()
    cmd += [f"--web.listen-address=127.0.0.1:{port}", "--log.level=debug", *args]
    log = home / "exporter.log"
    full_env = {**os.environ, **(env or {})}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=home)
    exp = Exporter(port, proc, log, config)
    try:

        def ready() -> bool:
            if not plain_http:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            return exp.get("/-/ready", timeout=2) != ""

        wait_process_ready(proc, ready, log, "llm-exporter to be ready", timeout=30)
        yield exp
    finally:
        stop_process(proc)
