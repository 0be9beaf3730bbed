"""Command line: ``llm-exporter [serve]``, ``check-config``, ``scrape-once``, ``discover``,
``healthcheck``, ``--version``.

Flag names follow the Prometheus exporters (``--web.listen-address``, ``--config.file``,
``--log.level`` ...); every flag can also be set from an ``LLM_EXPORTER_*`` environment
variable, e.g. ``LLM_EXPORTER_CONFIG_FILE``, for containers.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import click

from . import __version__, gcsettings, logsetup
from .config import ConfigError, load_config
from .httpconn import Limits
from .redact import redact
from .runtime import Runtime

log = logging.getLogger("llm_exporter")

EXIT_INVALID_CONFIG = 2


def _config_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config.file",
        "config_file",
        type=click.Path(dir_okay=False),
        envvar="LLM_EXPORTER_CONFIG_FILE",
        help="YAML config file. Without it the embedded default runs (GPUs + engine discovery).",
    )(f)


def _log_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--log.level",
        "log_level",
        type=click.Choice(logsetup.LEVELS),
        default="info",
        envvar="LLM_EXPORTER_LOG_LEVEL",
        show_default=True,
        help="Only log at this level or above.",
    )(f)
    f = click.option(
        "--log.format",
        "log_format",
        type=click.Choice(["logfmt", "json"]),
        default="logfmt",
        envvar="LLM_EXPORTER_LOG_FORMAT",
        show_default=True,
        help="Log line format.",
    )(f)
    return f


def _web_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--web.listen-address, --web.config.file, --web.max-requests, --web.enable-lifecycle."""
    f = click.option(
        "--web.enable-lifecycle",
        "enable_lifecycle",
        is_flag=True,
        default=False,
        envvar="LLM_EXPORTER_WEB_ENABLE_LIFECYCLE",
        help="Enable POST /-/reload (off by default, like Prometheus); SIGHUP always reloads.",
    )(f)
    f = click.option(
        "--web.max-requests",
        "max_requests",
        type=int,
        default=40,
        show_default=True,
        envvar="LLM_EXPORTER_WEB_MAX_REQUESTS",
        help="Maximum concurrent scrapes; 0 = no limit.",
    )(f)
    f = click.option(
        "--web.config.file",
        "web_config_file",
        type=click.Path(dir_okay=False),
        envvar="LLM_EXPORTER_WEB_CONFIG_FILE",
        help="Exporter-toolkit web config: TLS and basic auth (same file as node_exporter's).",
    )(f)
    f = click.option(
        "--web.listen-address",
        "listen_address",
        default=":10556",
        show_default=True,
        envvar="LLM_EXPORTER_WEB_LISTEN_ADDRESS",
        help="Address to listen on, HOST:PORT.",
    )(f)
    return f


def _limit_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--web.max-connections",
        "max_connections",
        type=click.IntRange(min=1),
        default=Limits.max_connections,
        show_default=True,
        envvar="LLM_EXPORTER_WEB_MAX_CONNECTIONS",
        help="Maximum open HTTP connections; more are closed at once.",
    )(f)
    f = click.option(
        "--web.read-header-timeout",
        "read_header_timeout",
        type=click.FloatRange(min=0.1),
        default=Limits.header_timeout,
        show_default=True,
        envvar="LLM_EXPORTER_WEB_READ_HEADER_TIMEOUT",
        help="Seconds a client has to send a request's headers (and finish a TLS handshake).",
    )(f)
    return f


def _config_errors_exit(what: str, errors: list[str]) -> None:
    """Print one line per config error (already redacted) and exit 2."""
    for error in errors:
        click.echo(f"llm-exporter: invalid {what}: {redact(error)}", err=True)
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


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="llm-exporter")
@_config_option
@_web_options
@_log_options
@_limit_options
@click.pass_context
def main(
    ctx: click.Context,
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
    """Prometheus exporter for LLM inference servers, NVIDIA GPUs and agent queues.

    Without a subcommand it serves metrics (the same as `llm-exporter serve`).
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(
            serve,
            config_file=config_file,
            listen_address=listen_address,
            web_config_file=web_config_file,
            max_requests=max_requests,
            enable_lifecycle=enable_lifecycle,
            max_connections=max_connections,
            read_header_timeout=read_header_timeout,
            log_level=log_level,
            log_format=log_format,
        )


@main.command()
@_config_option
@_web_options
@_limit_options
@_log_options
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
        click.echo(f"llm-exporter: {exc}", err=True)
        sys.exit(EXIT_INVALID_CONFIG)
    runtime = _runtime_or_exit(config_file, config)
    try:
        limits = Limits(max_connections=max_connections, header_timeout=read_header_timeout)
        server = ExporterHTTPServer(
            address, runtime, web, max_requests=max_requests, enable_lifecycle=enable_lifecycle, limits=limits
        )
    except OSError as exc:
        click.echo(f"llm-exporter: cannot listen on {listen_address}: {exc.strerror or exc}", err=True)
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
    gcsettings.tune()
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        runtime.close()
        log.info("stopped")


@main.command("check-config")
@_config_option
def check_config(config_file: str | None) -> None:
    """Validate a config file: exit 0 if valid, 2 with the reasons on stderr if not."""
    _load_or_exit(config_file)
    click.echo(f"{config_file or '<embedded default>'}: config is valid")


@main.command("scrape-once")
@_config_option
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Scrape deadline in seconds.")
@click.option("--openmetrics", is_flag=True, help="Print OpenMetrics instead of text format 0.0.4.")
@_log_options
def scrape_once(config_file: str | None, timeout: float, openmetrics: bool, log_level: str, log_format: str) -> None:
    """Run one collection and print the exposition to stdout (debugging, scripts)."""
    logsetup.setup(log_level, log_format)
    runtime = _runtime_or_exit(config_file, _load_or_exit(config_file))
    try:
        from .exposition import render
        from .statuspage import nothing_found

        metrics = runtime.collect(timeout)
        sys.stdout.write(render(metrics, openmetrics).decode())
        empty = nothing_found(runtime.config, metrics)
        if empty:
            click.echo(f"llm-exporter: {empty}", err=True)
    finally:
        runtime.close()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Host whose default engine ports are tried.")
@click.option(
    "--port", "ports", type=int, multiple=True, help="Port to try (repeatable); default: every engine's default port."
)
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Deadline for the whole search.")
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
        click.echo(
            f"# no inference server answered on {host} ports {', '.join(map(str, ports or DEFAULT_PORTS))}", err=True
        )
        sys.exit(1)
    click.echo(yaml.safe_dump({"inference": sorted(targets, key=lambda t: t["url"])}, sort_keys=False), nl=False)


@main.command()
@click.option("--web.listen-address", "listen_address", help="Check this address instead of the running server's.")
@click.option("--web.config.file", "web_config_file", help="Web config to use with --web.listen-address.")
@click.option("--timeout", type=float, default=4.0, show_default=True, help="Seconds to wait for an answer.")
def healthcheck(listen_address: str | None, web_config_file: str | None, timeout: float) -> None:
    """Exit 0 if the running exporter answers /-/healthy (the container image's HEALTHCHECK).

    Without flags, the address, TLS and basic auth follow the flags of the `llm-exporter` server
    running in the same PID namespace (read from /proc), so a changed --web.listen-address needs
    no change to the HEALTHCHECK.
    """
    from .healthcheck import probe

    healthy, why = probe(listen_address, web_config_file, timeout)
    click.echo(f"{'healthy' if healthy else 'unhealthy'}: {why}")
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
