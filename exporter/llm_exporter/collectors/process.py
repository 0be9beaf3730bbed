"""The served inference process, read with psutil: CPU seconds, resident memory, threads, fds.

The process is found by ``process.pid_file``, or (``from_port: true``) as the process
listening on the target URL's port, which works when the sidecar shares the pod's process
namespace (``shareProcessNamespace: true``) or runs on the same host. A process that
cannot be found or read leaves its metrics absent; the reason is logged once.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from ..config import InferenceTarget
from ..metricset import MetricSet
from ..scrape import Deadline
from .base import BaseCollector

log = logging.getLogger(__name__)


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def pid_listening_on(port: int) -> int | None:
    """The pid of the process with a listening TCP socket on ``port`` (any address)."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return c.pid
    return None


class ProcessCollector(BaseCollector[InferenceTarget]):
    """Reads the process serving one target; ``config`` is the whole target.

    ``target`` stays ``None``: ``llm_target_up`` belongs to the inference reader.
    """

    name = "process"

    def __init__(self, config: InferenceTarget) -> None:
        assert config.process is not None
        super().__init__(config, key=f"process/{config.name}")
        self._proc: psutil.Process | None = None
        self._problem = ""
        self._lock = threading.Lock()

    def _find(self) -> psutil.Process:
        pc = self.config.process
        assert pc is not None
        pid: int | None = None
        if pc.pid_file:
            try:
                pid = int(Path(pc.pid_file).read_text(encoding="utf-8").strip())
            except (OSError, ValueError) as exc:
                raise LookupError(f"cannot read pid file {pc.pid_file}: {exc}") from None
        elif pc.from_port:
            port = _port(self.config.url)
            pid = pid_listening_on(port)
            if pid is None:
                raise LookupError(f"no process listening on port {port} is visible")
        else:
            raise LookupError("process: needs pid_file or from_port: true")
        try:
            return psutil.Process(pid)
        except psutil.Error as exc:
            raise LookupError(f"process {pid}: {type(exc).__name__}") from None

    def _note(self, problem: str) -> None:
        if problem != self._problem:
            if problem:
                log.warning("served process of %s: %s", self.config.name, problem)
            else:
                log.info("served process of %s found", self.config.name)
            self._problem = problem

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        with self._lock:
            for attempt in range(2):
                try:
                    if self._proc is None or not self._proc.is_running():
                        self._proc = self._find()
                    self._read(self._proc, out)
                    self._note("")
                    return
                except LookupError as exc:
                    self._proc = None
                    self._note(str(exc))
                    return
                except psutil.Error as exc:
                    self._proc = None  # gone or restarted: look it up again once
                    if attempt:
                        self._note(f"cannot read the process: {type(exc).__name__}")

    def _read(self, proc: psutil.Process, out: MetricSet) -> None:
        lab = {"target": self.config.name}
        with proc.oneshot():
            cpu = proc.cpu_times()
            mem = proc.memory_info()
            threads = proc.num_threads()
            try:
                fds: int | None = proc.num_fds()
            except (AttributeError, psutil.AccessDenied):
                fds = None
        out.add("llm_process_cpu_seconds_total", cpu.user + cpu.system, lab)
        out.add("llm_process_resident_memory_bytes", mem.rss, lab)
        out.add("llm_process_threads", threads, lab)
        out.add("llm_process_open_fds", fds, lab)
