"""Command line: ``llm-exporter [serve]``, ``check-config``, ``scrape-once``, ``discover``,
``healthcheck``, ``--version``.

Flag names follow the Prometheus exporters (``--web.listen-address``, ``--config.file``,
``--log.level`` ...); every flag of ``serve`` can also be set from an ``LLM_EXPORTER_*``
environment variable, e.g. ``LLM_EXPORTER_CONFIG_FILE``, for containers. A flag on the
command line wins over its variable; an empty variable counts as unset.

Without a command the flags are ``serve``'s. After a command only the flags written after it
count: ``llm-exporter --web.listen-address=:1 serve`` listens on the default address (the
rules of click, which parsed this command line before; ``healthcheck`` reads a server's flags
by the same rules). argparse is part of the standard library and is imported in about 2 ms,
where click took about 13 ms of every start.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import __version__, logsetup
from .cliflags import CONFIG_FLAGS, LOG_FLAGS, SERVE_FLAGS, Flag, add_flags, flag_values, integer, number
from .config import ConfigError, load_config
from .httpconn import Limits
from .redact import redact
from .runtime import Runtime

log = logging.getLogger("llm_exporter")

EXIT_INVALID_CONFIG = 2
PROG = "llm-exporter"


# -- helpers of the commands --------------------------------------------------------------------
def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _config_errors_exit(what: str, errors: list[str]) -> None:
    """Print one line per config error (already redacted) and exit 2."""
    for error in errors:
        _err(f"llm-exporter: invalid {what}: {redact(error)}")
    sys.exit(EXIT_INVALID_CONFIG)


def _load_or_exit(config_file: str | None) -> Any:
    try:
        return load_config(config_file)
    except ConfigError as exc:
        _config_errors_exit(f"config {config_file or '<embedded default>'}", exc.errors)
    except Exception as exc:  # a loader bug must still be one line, never a traceback with values
        _config_errors_exit(f"config {config_file or '<embedded default>'}", [f"<root>: {type(exc).__name__}"])


def _runtime_or_exit(config_file: str | None, config: Any) -> Runtime:
    try:
        return Runtime(config_file, config)
    except ConfigError as exc:
        _config_errors_exit(f"config {config_file or '<embedded default>'}", exc.errors)
        raise  # unreachable: _config_errors_exit exits


# -- the commands -------------------------------------------------------------------------------
def serve(
    config_file: str | None,
    listen_address: str,
    web_config_file: str | None,
    max_requests: int,
    enable_lifecycle: bool,
    max_connections: int,
    read_header_timeout: float,
    log_level: str,
    log_format: str,
) -> None:
    """Serve /metrics until SIGTERM; SIGHUP (or POST /-/reload with --web.enable-lifecycle) re-reads the config."""
    from .listen import parse_listen_address
    from .server import ExporterHTTPServer

    logsetup.setup(log_level, log_format)
    config = _load_or_exit(config_file)
    web = None
    if web_config_file:
        from .webconfig import load_web_config

        try:
            web = load_web_config(web_config_file)
        except ConfigError as exc:
            _config_errors_exit(f"web config {web_config_file}", exc.errors)
    if web is not None:
        from .webconfig import ignored_settings

        for setting in ignored_settings(web):
            log.warning("web config: %s is accepted but ignored", setting)
    try:
        address = parse_listen_address(listen_address)
    except ValueError as exc:
        _err(f"llm-exporter: {exc}")
        sys.exit(EXIT_INVALID_CONFIG)
    runtime = _runtime_or_exit(config_file, config)
    try:
        limits = Limits(max_connections=max_connections, header_timeout=read_header_timeout)
        server = ExporterHTTPServer(
            address, runtime, web, max_requests=max_requests, enable_lifecycle=enable_lifecycle, limits=limits
        )
    except OSError as exc:
        _err(f"llm-exporter: cannot listen on {listen_address}: {exc.strerror or exc}")
        runtime.close()
        sys.exit(1)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        log.warning("running as root: llm-exporter needs no privileges, run it as an unprivileged user")
    collectors = sorted({c.name for c in runtime.engine.collectors})
    log.info(
        "starting llm-exporter %s, config %s, collectors: %s",
        __version__,
        config_file or "<embedded default>",
        ", ".join(collectors) or "none",
    )
    log.info(
        "listening on %s (tls=%s, basic_auth=%s, lifecycle=%s)",
        listen_address,
        web is not None and web.tls_server_config is not None,
        server.auth.enabled,
        enable_lifecycle,
    )

    stop = threading.Event()

    def on_term(signum: int, frame: Any) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    def on_hup(signum: int, frame: Any) -> None:
        threading.Thread(target=runtime.reload, name="reload", daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, on_hup)
    runtime.start_warmup()  # /-/ready answers 503 until this first collection has finished
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        runtime.close()
        log.info("stopped")


def check_config(config_file: str | None) -> None:
    """Validate a config file: exit 0 if valid, 2 with the reasons on stderr if not."""
    _load_or_exit(config_file)
    print(f"{config_file or '<embedded default>'}: config is valid")


def scrape_once(config_file: str | None, timeout: float, openmetrics: bool, log_level: str, log_format: str) -> None:
    """Run one collection and print the exposition to stdout (debugging, scripts)."""
    from .exposition import render
    from .statuspage import nothing_found

    logsetup.setup(log_level, log_format)
    runtime = _runtime_or_exit(config_file, _load_or_exit(config_file))
    try:
        metrics = runtime.collect(timeout)
        sys.stdout.write(render(metrics, openmetrics).decode())
        sys.stdout.flush()
        empty = nothing_found(runtime.config, metrics)
        if empty:
            _err(f"llm-exporter: {empty}")
    finally:
        runtime.close()


def discover(host: str, ports: tuple[int, ...], timeout: float) -> None:
    """Find inference servers on default local ports and print an `inference:` config for them."""
    import yaml

    from .collectors.inference import DiscoveryCollector
    from .collectors.inference.engines import DEFAULT_PORTS
    from .config import DiscoveryConfig
    from .metricset import MetricSet
    from .scrape import Deadline

    logsetup.setup("warn", "logfmt")
    finder = DiscoveryCollector(DiscoveryConfig(enabled=True, host=host), ports=ports or DEFAULT_PORTS)
    found = MetricSet()
    try:
        finder.collect(found, Deadline(timeout))
    finally:
        finder.close()
    targets = []
    for key in found.series("llm_target_info"):
        labels = dict(key)
        name = labels["target"]
        targets.append(
            {
                "name": f"{labels['software']}-{name.rsplit(':', 1)[1]}",
                "server": labels["software"],
                "url": f"http://{name}",
            }
        )
    if not targets:
        _err(f"# no inference server answered on {host} ports {', '.join(map(str, ports or DEFAULT_PORTS))}")
        sys.exit(1)
    sys.stdout.write(yaml.safe_dump({"inference": sorted(targets, key=lambda t: t["url"])}, sort_keys=False))


def healthcheck(listen_address: str | None, web_config_file: str | None, timeout: float) -> None:
    """Exit 0 if the running exporter answers /-/healthy (the container image's HEALTHCHECK).

    Without flags, the address, TLS and basic auth follow the flags of the `llm-exporter` server
    running in the same PID namespace (read from /proc), so a changed --web.listen-address needs
    no change to the HEALTHCHECK.
    """
    from .healthcheck import probe

    healthy, why = probe(listen_address, web_config_file, timeout)
    print(f"{'healthy' if healthy else 'unhealthy'}: {why}")
    sys.exit(0 if healthy else 1)


# name -> (function, its flags)
COMMANDS: dict[str, tuple[Callable[..., None], tuple[Flag, ...]]] = {
    "serve": (serve, SERVE_FLAGS),
    "check-config": (check_config, CONFIG_FLAGS),
    "scrape-once": (
        scrape_once,
        (
            *CONFIG_FLAGS,
            Flag(
                "--timeout", "timeout", "Scrape deadline in seconds.", default=10.0, convert=number, metavar="SECONDS"
            ),
            Flag("--openmetrics", "openmetrics", "Print OpenMetrics instead of text format 0.0.4.", switch=True),
            *LOG_FLAGS,
        ),
    ),
    "discover": (
        discover,
        (
            Flag("--host", "host", "Host whose default engine ports are tried.", default="127.0.0.1", metavar="HOST"),
            Flag(
                "--port",
                "ports",
                "Port to try (repeatable); default: every engine's default port.",
                default=(),
                convert=integer,
                repeat=True,
                metavar="PORT",
            ),
            Flag(
                "--timeout", "timeout", "Deadline for the whole search.", default=5.0, convert=number, metavar="SECONDS"
            ),
        ),
    ),
    "healthcheck": (
        healthcheck,
        (
            Flag(
                "--web.listen-address",
                "listen_address",
                "Check this address instead of the running server's.",
                metavar="HOST:PORT",
            ),
            Flag(
                "--web.config.file", "web_config_file", "Web config to use with --web.listen-address.", metavar="FILE"
            ),
            Flag(
                "--timeout", "timeout", "Seconds to wait for an answer.", default=4.0, convert=number, metavar="SECONDS"
            ),
        ),
    ),
}
TOP = "top."  # namespace prefix of the flags written before any command (serve's, unless a command follows)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and one parser per command."""
    top = argparse.ArgumentParser(
        prog=PROG,
        description="Prometheus exporter for LLM inference servers, NVIDIA GPUs and agent queues. "
        "Without a command it serves metrics (the same as `llm-exporter serve`).",
        allow_abbrev=False,
    )
    top.add_argument("--version", action="version", version=f"{PROG}, version {__version__}")
    add_flags(top, SERVE_FLAGS, TOP)
    commands = top.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    parsers = {}
    for name, (run, flags) in COMMANDS.items():
        doc = (run.__doc__ or "").strip()
        summary = doc.split("\n", 1)[0]
        parsers[name] = parser = commands.add_parser(
            name,
            help=summary,
            description=doc,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_flags(parser, flags, "")
    return top, parsers


def parse(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """The command to run and its flag values; a bad command line exits 2 with the usage."""
    top, parsers = build_parser()
    parsed = top.parse_args(argv)
    name: str | None = parsed.command
    flags = COMMANDS[name or "serve"][1]
    return name or "serve", flag_values(parsers[name] if name else top, parsed, flags, "" if name else TOP, environ)


def main(argv: Sequence[str] | None = None) -> None:
    """The ``llm-exporter`` entry point."""
    name, values = parse(argv)
    try:
        COMMANDS[name][0](**values)
    except KeyboardInterrupt:
        _err("Aborted!")
        sys.exit(1)
    except BrokenPipeError:  # stdout closed early (`llm-exporter scrape-once | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
