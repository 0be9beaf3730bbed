"""`llm-exporter healthcheck` / `python -m llm_exporter.healthcheck`: the image's HEALTHCHECK.

A HEALTHCHECK command cannot see the flags the container was started with, so this reads them
from the serving process itself (``/proc/<pid>/cmdline`` and ``environ``, visible to the same
user in the container's PID namespace): the listen address and the web config follow
``--web.listen-address`` / ``--web.config.file`` (or their environment variables), then
``GET /-/healthy`` is asked on loopback, over TLS when the web config enables it.

Healthy is a 200. ``/-/healthy`` answers without credentials when basic auth is on
(docs/security.md), so the check needs no password.

The module imports only the standard library and the web config reader (~0.1 s), not the
collectors: it runs every 30 s next to the exporter.
"""

from __future__ import annotations

import argparse
import http.client
import os
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

from .configtypes import ConfigError
from .listen import parse_listen_address

DEFAULT_LISTEN_ADDRESS = ":10556"
ENV_LISTEN = "LLM_EXPORTER_WEB_LISTEN_ADDRESS"
ENV_WEB_CONFIG = "LLM_EXPORTER_WEB_CONFIG_FILE"
FLAG_LISTEN = "--web.listen-address"
FLAG_WEB_CONFIG = "--web.config.file"
MAX_ARGV = 64 * 1024  # bytes read from /proc/<pid>/cmdline and environ


@dataclass(frozen=True)
class ServerFlags:
    """What the health check needs from the serving process's command line."""

    listen_address: str = DEFAULT_LISTEN_ADDRESS
    web_config_file: str | None = None


def _read_nul_list(path: Path) -> list[str]:
    with path.open("rb") as f:
        raw = f.read(MAX_ARGV)
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def is_server_argv(argv: list[str]) -> bool:
    """True for ``llm-exporter [flags] [serve ...]`` (console script or ``python -m llm_exporter``)."""
    if not argv:
        return False
    rest: list[str] | None = None
    if os.path.basename(argv[0]) == "llm-exporter":
        rest = argv[1:]
    elif len(argv) > 1 and os.path.basename(argv[1]) == "llm-exporter":
        rest = argv[2:]  # python /path/to/bin/llm-exporter ...
    elif argv[1:3] == ["-m", "llm_exporter"]:
        rest = argv[3:]
    if rest is None:
        return False
    commands = [a for a in rest if not a.startswith("-")]
    return not commands or "serve" in commands


def parse_server_flags(argv: list[str], environ: dict[str, str]) -> ServerFlags:
    """The listen address and web config the process was started with (click's rules).

    Flags of ``serve`` are the ones it uses when the subcommand is given; otherwise the group's.
    The last occurrence wins; an environment variable applies when the flag is absent.
    """
    args = argv[1:]
    if "serve" in args:
        args = args[args.index("serve") + 1 :]
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in (FLAG_LISTEN, FLAG_WEB_CONFIG):
            if not eq:
                i += 1
                value = args[i] if i < len(args) else ""
            found[name] = value
        i += 1
    return ServerFlags(
        listen_address=found.get(FLAG_LISTEN) or environ.get(ENV_LISTEN) or DEFAULT_LISTEN_ADDRESS,
        web_config_file=found.get(FLAG_WEB_CONFIG) or environ.get(ENV_WEB_CONFIG) or None,
    )


def find_server(proc: Path = Path("/proc")) -> tuple[ServerFlags, Path | None] | None:
    """The serving process's flags and working directory: PID 1 first, then the lowest PID."""
    me = os.getpid()
    pids = sorted(int(p.name) for p in proc.iterdir() if p.name.isdigit() and int(p.name) != me)
    for pid in pids:
        base = proc / str(pid)
        try:
            argv = _read_nul_list(base / "cmdline")
        except OSError:
            continue  # gone meanwhile
        if not is_server_argv(argv):
            continue
        try:  # environ and cwd need the same user; without them flags still count
            env = dict(e.partition("=")[::2] for e in _read_nul_list(base / "environ"))
            cwd: Path | None = (base / "cwd").resolve(strict=True)
        except OSError:
            env, cwd = {}, None
        return parse_server_flags(argv, env), cwd
    return None


def check(flags: ServerFlags, cwd: Path | None = None, timeout: float = 4.0) -> tuple[bool, str]:
    """Ask ``/-/healthy``; returns (healthy, one line saying why)."""
    host, port = parse_listen_address(flags.listen_address)
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    tls = False
    if flags.web_config_file:
        from .webconfig import load_web_config

        path = Path(flags.web_config_file)
        web = load_web_config(path if path.is_absolute() or cwd is None else cwd / path)
        tls = web.tls_server_config is not None
    conn: http.client.HTTPConnection
    if tls:
        # A self-check on loopback: the scraper verifies the certificate, not this probe.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    url = f"{'https' if tls else 'http'}://{host}:{port}/-/healthy"
    try:
        conn.request("GET", "/-/healthy")
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{url}: {exc}"
    finally:
        conn.close()
    if status == 200:
        return True, f"{url}: {status}"
    return False, f"{url}: HTTP {status}"


def probe(
    listen_address: str | None = None, web_config_file: str | None = None, timeout: float = 4.0
) -> tuple[bool, str]:
    """Check the given address, or else the running server's own; never raises for bad input."""
    cwd: Path | None = None
    if listen_address:
        flags = ServerFlags(listen_address, web_config_file)
    else:
        found = find_server()
        flags, cwd = found if found else (ServerFlags(web_config_file=web_config_file), None)
    try:
        return check(flags, cwd, timeout)
    except (ValueError, ConfigError) as exc:
        return False, str(exc)


def main(argv: list[str] | None = None) -> int:
    """Print one line and return 0 (healthy) or 1, as a HEALTHCHECK command should."""
    parser = argparse.ArgumentParser(prog="python -m llm_exporter.healthcheck", description=__doc__.splitlines()[0])
    parser.add_argument("--web.listen-address", dest="listen_address", help="check this address instead")
    parser.add_argument("--web.config.file", dest="web_config_file", help="web config for --web.listen-address")
    parser.add_argument("--timeout", type=float, default=4.0, help="seconds to wait for an answer (default 4)")
    args = parser.parse_args(argv)
    healthy, why = probe(args.listen_address, args.web_config_file, args.timeout)
    print(f"{'healthy' if healthy else 'unhealthy'}: {why}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
