"""The XID watcher: a daemon thread blocked in nvmlEventSetWait, counting XID errors.

NVML events are push-only, so this is one of the exporter's two justified background
pieces. The thread never holds a lock a scrape needs for longer than a dict update; its
counters are rendered by the scrape thread and keep counting across NVML
re-initialisations (the collector hands it a new device list and generation; the thread
re-registers on its next wake-up) and across failed collections.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pynvml

from ...metricset import MetricSet
from . import nvml

log = logging.getLogger(__name__)


class XidWatcher:
    """Counts XID events per (GPU UUID, XID code) with the last-seen Unix time."""

    def __init__(
        self, wait_ms: int = 1000, backoff: tuple[float, float] = (1.0, 30.0), wall: Callable[[], float] = time.time
    ) -> None:
        self.wait_ms = wait_ms
        self.backoff = backoff
        self._wall = wall
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], list[float]] = {}
        self._generation = 0
        self._devices: tuple[tuple[Any, str], ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- control (collector side) ------------------------------------------------------------
    def update(self, generation: int, devices: Sequence[tuple[Any, str]]) -> None:
        """A new NVML generation with its (handle, uuid) list; the thread re-registers."""
        with self._lock:
            self._generation = generation
            self._devices = tuple(devices)
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="gpu-xid-watcher", daemon=True)
            self._thread.start()

    def stop(self, join: float = 0.0) -> None:
        """Ask the thread to end (after its current wait); optionally wait for it."""
        self._stop.set()
        thread = self._thread
        if join and thread is not None:
            thread.join(join)

    def record(self, uuid: str, xid: int) -> None:
        with self._lock:
            entry = self._counts.setdefault((uuid, xid), [0.0, 0.0])
            entry[0] += 1
            entry[1] = self._wall()

    def render(self, out: MetricSet, index_of: Mapping[str, str]) -> None:
        """Add the XID counters of GPUs whose index is known."""
        with self._lock:
            items = list(self._counts.items())
        for (uuid, xid), (count, last) in items:
            gpu = index_of.get(uuid)
            if gpu is None:
                continue
            labels = {"gpu": gpu, "uuid": uuid, "xid": str(xid)}
            out.add("llm_gpu_xid_errors_total", count, labels)
            out.add("llm_gpu_xid_last_timestamp_seconds", last, labels)

    # -- the thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        event_set: Any = None
        registered = 0
        by_handle: dict[int, str] = {}
        delay = self.backoff[0]
        while not self._stop.is_set():
            with self._lock:
                generation, devices = self._generation, self._devices
            if generation != registered:
                _free(event_set)
                event_set = None
                try:
                    event_set, by_handle = _register(devices)
                    registered = generation
                    delay = self.backoff[0]
                except pynvml.NVMLError as exc:
                    log.info(
                        "XID watcher: cannot register for events (%s); retrying in %.0fs", nvml.describe(exc), delay
                    )
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.backoff[1])
                    continue
            try:
                data = pynvml.nvmlEventSetWait(event_set, self.wait_ms)
            except pynvml.NVMLError as exc:
                if nvml.code_of(exc) == pynvml.NVML_ERROR_TIMEOUT:
                    continue
                # NVML shut down under us (re-init) or the driver went away: re-register later.
                registered = 0
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff[1])
                continue
            if not data.eventType & nvml.XID_EVENT:
                continue
            uuid = by_handle.get(nvml.handle_key(data.device))
            if uuid is None:
                try:
                    uuid = nvml.text(pynvml.nvmlDeviceGetUUID(data.device))
                except pynvml.NVMLError:
                    uuid = "unknown"
            xid = int(data.eventData)
            log.warning("XID %d on GPU %s", xid, uuid)
            self.record(uuid, xid)
        _free(event_set)


def _register(devices: Sequence[tuple[Any, str]]) -> tuple[Any, dict[int, str]]:
    event_set = pynvml.nvmlEventSetCreate()
    by_handle: dict[int, str] = {}
    for handle, uuid in devices:
        try:
            supported = pynvml.nvmlDeviceGetSupportedEventTypes(handle)
            if supported & nvml.XID_EVENT:
                pynvml.nvmlDeviceRegisterEvents(handle, nvml.XID_EVENT, event_set)
                by_handle[nvml.handle_key(handle)] = uuid
        except pynvml.NVMLError as exc:
            if nvml.classify(exc) is nvml.Kind.LIFECYCLE:
                _free(event_set)
                raise
            log.info("XID watcher: GPU %s gives no XID events: %s", uuid, nvml.describe(exc))
    return event_set, by_handle


def _free(event_set: Any) -> None:
    if event_set is None:
        return
    try:
        pynvml.nvmlEventSetFree(event_set)
    except pynvml.NVMLError:
        pass
