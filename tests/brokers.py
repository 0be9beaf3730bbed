"""Real message brokers for tests: Redis, RabbitMQ (with the management plugin) and NATS.

Each context manager starts its own broker on free loopback ports with all state in a
folder under ``tmp_path`` (no system service, no shared state), waits until it answers,
yields a handle, and stops it (and everything it started) on exit::

    with redis_server(tmp_path) as r:             # r.url == "redis://127.0.0.1:PORT/0"
        redis.Redis.from_url(r.url).lpush("q", "x")
    with rabbitmq_server(tmp_path) as mq:         # slow to boot (10-30 s): share it per session
        pika.BlockingConnection(pika.URLParameters(mq.amqp_url))
        requests.get(mq.management_url + "/api/queues", auth=(mq.username, mq.password))
    with nats_server(tmp_path) as n:              # n.url (client), n.monitor_url (/jsz, /varz)
        ...

Every handle has ``stop()`` and ``start()`` to take the broker away and bring it back on
the same ports (data kept), for "broker down" and recovery tests. A missing binary fails
in CI and skips on a laptop (``support.need_binary``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
from support import free_port, need_binary, stop_process, wait_for, wait_port

__all__ = ["NatsServer", "RabbitMQServer", "RedisServer", "nats_server", "rabbitmq_server", "redis_server"]


@dataclass
class _Proc:
    """A broker process that can be stopped and started again with the same arguments."""

    argv: list[str]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    log_name: str = "broker.log"
    proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> None:
        log = open(self.workdir / self.log_name, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        log.close()

    def _terminate(self, timeout: float = 30.0) -> None:
        stop_process(self.proc, timeout, group=True)
        self.proc = None

    def log_tail(self, n: int = 4000) -> str:
        try:
            return (self.workdir / self.log_name).read_text(errors="replace")[-n:]
        except OSError:
            return ""


# --- Redis -----------------------------------------------------------------------------------


@dataclass
class RedisServer(_Proc):
    """A running ``redis-server``. ``url`` includes the password when one is set."""

    port: int = 0
    password: str | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def url_without_password(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._spawn()
        try:
            wait_port(self.port, timeout=20)
        except TimeoutError:
            raise RuntimeError(f"redis-server did not start:\n{self.log_tail()}") from None

    def stop(self) -> None:
        self._terminate()


@contextlib.contextmanager
def redis_server(tmp_path: Path, password: str | None = None) -> Iterator[RedisServer]:
    """Start ``redis-server`` (no persistence) on a free port; optional ``requirepass``."""
    binary = need_binary("redis-server")
    port = free_port()
    workdir = Path(tmp_path) / f"redis-{port}"
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--daemonize",
        "no",
        "--protected-mode",
        "no",
    ]
    if password:
        argv += ["--requirepass", password]
    server = RedisServer(argv=argv, workdir=workdir, log_name="redis.log", port=port, password=password)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- NATS ------------------------------------------------------------------------------------


@dataclass
class NatsServer(_Proc):
    """A running ``nats-server -js``: ``url`` for clients, ``monitor_url`` for /jsz and /varz."""

    port: int = 0
    monitor_port: int = 0

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def start(self) -> None:
        self._spawn()
        try:
            wait_for(
                lambda: requests.get(self.monitor_url + "/healthz?js-enabled-only=true", timeout=1).ok,
                timeout=30,
                what="nats-server /healthz",
            )
        except TimeoutError:
            raise RuntimeError(f"nats-server did not start:\n{self.log_tail()}") from None

    def stop(self) -> None:
        self._terminate()


@contextlib.contextmanager
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """Start ``nats-server`` with JetStream (store under tmp_path) and the monitoring port."""
    binary = need_binary("nats-server")
    port, monitor = free_port(), free_port()
    workdir = Path(tmp_path) / f"nats-{port}"
    (workdir / "js").mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-m",
        str(monitor),
        "-js",
        "-sd",
        str(workdir / "js"),
        "-n",
        f"test-{port}",
    ]
    server = NatsServer(argv=argv, workdir=workdir, log_name="nats.log", port=port, monitor_port=monitor)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- RabbitMQ --------------------------------------------------------------------------------


@dataclass
class RabbitMQServer(_Proc):
    """A running RabbitMQ node with the management plugin; user guest/guest (loopback only)."""

    amqp_port: int = 0
    management_port: int = 0
    dist_port: int = 0
    epmd_port: int = 0
    username: str = "guest"
    password: str = "guest"

    @property
    def amqp_url(self) -> str:
        return f"amqp://{self.username}:{self.password}@127.0.0.1:{self.amqp_port}/%2F"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    url = management_url

    def start(self, timeout: float = 120.0) -> None:
        self._spawn()

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("rabbitmq-server exited")
            r = requests.get(self.management_url + "/api/overview", auth=(self.username, self.password), timeout=2)
            return r.ok

        try:
            wait_for(ready, timeout=timeout, interval=0.5, what="RabbitMQ management API")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"rabbitmq-server did not start:\n{self.log_tail()}") from None

    def stop(self) -> None:
        self._terminate(timeout=60)
        # epmd is started by the node on our private port; stop it with the node.
        epmd = "/usr/bin/epmd" if os.path.exists("/usr/bin/epmd") else "epmd"
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [epmd, "-port", str(self.epmd_port), "-kill"],
                capture_output=True,
                timeout=10,
                env={**os.environ, "ERL_EPMD_PORT": str(self.epmd_port)},
            )


@contextlib.contextmanager
def rabbitmq_server(tmp_path: Path, timeout: float = 120.0) -> Iterator[RabbitMQServer]:
    """Start a private RabbitMQ node (own node name, ports, mnesia and log dirs, epmd port).

    Statistics are refreshed every 500 ms (``collect_statistics_interval``) so tests see
    new message counts quickly. Boot takes 10-30 s: use it from a session-scoped fixture.
    """
    need_binary("rabbitmq-server")
    script = next(
        (p for p in ("/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/sbin/rabbitmq-server") if os.access(p, os.X_OK)),
        "rabbitmq-server",
    )
    amqp, mgmt, dist, epmd = free_port(), free_port(), free_port(), free_port()
    workdir = Path(tmp_path) / f"rabbitmq-{amqp}"
    for sub in ("mnesia", "log", "home"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    (workdir / "enabled_plugins").write_text("[rabbitmq_management].\n")
    (workdir / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{amqp}\n"
        f"management.tcp.port = {mgmt}\n"
        "management.tcp.ip = 127.0.0.1\n"
        "collect_statistics_interval = 500\n"
        "management.rates_mode = basic\n"
        "log.console = true\n"
        "log.console.level = warning\n"
        "log.file = false\n"
    )
    cookie = workdir / "home" / ".erlang.cookie"
    cookie.write_text(f"LLMEXPORTERTEST{amqp}")
    cookie.chmod(0o400)
    node = f"llmx{amqp}@localhost"
    env = {
        "HOME": str(workdir / "home"),
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp),
        "RABBITMQ_DIST_PORT": str(dist),
        "ERL_EPMD_PORT": str(epmd),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
        "RABBITMQ_PLUGINS_EXPAND_DIR": str(workdir / "plugins-expand"),
        "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(workdir / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(workdir / "rabbitmq-env.conf"),
        "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
        "RABBITMQ_USE_LONGNAME": "false",
    }
    server = RabbitMQServer(
        argv=[script],
        workdir=workdir,
        env=env,
        log_name="rabbitmq.log",
        amqp_port=amqp,
        management_port=mgmt,
        dist_port=dist,
        epmd_port=epmd,
    )
    server.start(timeout=timeout)
    try:
        yield server
    finally:
        server.stop()
