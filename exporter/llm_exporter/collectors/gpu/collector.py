"""The ``gpu`` collector: NVML lifecycle, per-GPU isolation, XID watcher.

The scrape engine runs ``collect`` in its own thread and owns the deadline: a call stuck
inside the driver is abandoned, and meanwhile each scrape serves ``fallback``
(``llm_gpu_nvml_up 0`` and the XID counters). A read that finds an earlier one still inside
NVML does not enter it: it reports the stuck call at once. NVML
initialisation (which can hang on a broken driver) happens inside ``collect`` too, so
never on a thread the engine waits on without a deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pynvml

from ...config import GpuConfig
from ...metricset import MetricSet
from ...scrape import CollectorFailed, Deadline
from ..base import BaseCollector
from . import nvml
from .device import Gpu, GpuFailed, Lifecycle, Options, ProcessNames, read_gpu, read_info
from .gpm import GpmState, read_gpm
from .nvml import Kind, NoLibrary
from .xid import XidWatcher

log = logging.getLogger(__name__)


@dataclass
class _Result:
    metrics: MetricSet
    error: str | None = None


class GpuCollector(BaseCollector[GpuConfig]):
    """Reads every visible NVIDIA GPU through NVML at scrape time."""

    name = "gpu"

    def __init__(
        self,
        config: GpuConfig,
        *,
        backoff: tuple[float, float] = (1.0, 60.0),
        xid_wait_ms: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        gpm_max_gap: float = 300.0,
    ) -> None:
        super().__init__(config, key="gpu")
        self.backoff = backoff
        self.gpm_max_gap = gpm_max_gap
        self._clock = clock
        self._opts = Options(
            processes=config.processes,
            pcie_throughput=config.pcie_throughput,
            nvlink=config.nvlink,
            gpm=config.gpm,
            slow_counters_interval=config.slow_counters_interval,
        )
        self._names = ProcessNames() if config.processes else None
        self._xid = XidWatcher(wait_ms=xid_wait_ms)
        self._reading = threading.Lock()  # held while a read is inside NVML
        # NVML state, touched only inside collect
        self._initialized = False
        self._ever_initialized = False
        self._quiet = False
        self._generation = 0
        self._reinits = 0
        self._next_init = 0.0
        self._delay = backoff[0]
        self._gpus: list[Gpu] = []
        self._count = -1
        self._max_seen = 0
        self._last_error = ""
        self._system: dict[str, str] = {}
        self._uuid_by_index: dict[int, str] = {}
        self._index_of: dict[str, str] = {}  # uuid -> gpu label, read by the scrape thread
        self._failed: set[str] = set()
        self._gpm: dict[str, GpmState] = {}  # uuid -> previous GPM sample (opt-in gpu.gpm)

    # -- the Collector contract -------------------------------------------------------------------
    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        # The engine lets a fresh read start once a late one is abandoned; NVML is never
        # entered by two reads at once: the fresh one reports the stuck call and returns.
        if not self._reading.acquire(blocking=False):
            self.fallback(out)
            raise CollectorFailed("an earlier NVML call is still running (stuck in the driver)")
        try:
            result = self._collect_once()
        except Exception as exc:  # keep the XID counters even when the read crashes
            log.exception("gpu collection crashed")
            result = _Result(MetricSet(), f"{type(exc).__name__}: {exc}")
        finally:
            self._reading.release()
        out.merge(result.metrics)
        self._xid.render(out, self._index_of)
        if result.error:
            raise CollectorFailed(result.error)

    def fallback(self, out: MetricSet) -> None:
        """NVML is stuck or slow: report it down, and the XID counters the watcher keeps."""
        out.add("llm_gpu_nvml_up", 0)
        self._xid.render(out, self._index_of)

    def close(self, join: float = 0.0) -> None:
        """Stop the XID watcher and release NVML (unless a read is stuck inside it)."""
        self._xid.stop(join)
        if not self._reading.acquire(blocking=False):
            return
        try:
            if self._initialized:
                self._initialized = False
                self._release_gpm()
                try:
                    pynvml.nvmlShutdown()
                except pynvml.NVMLError:
                    pass
        finally:
            self._reading.release()

    # -- reading ----------------------------------------------------------------------------------
    def _collect_once(self) -> _Result:
        if not self._initialized:
            failure = self._try_init()
            if failure is not None:
                return failure
        try:
            return self._read_all()
        except Lifecycle as exc:
            self._teardown(str(exc))
            failure = self._try_init(immediate=True)  # a driver reload usually needs just one re-init
            if failure is not None:
                return failure
            try:
                return self._read_all()
            except Lifecycle as exc2:
                self._teardown(str(exc2))
                return self._down(f"NVML lifecycle error: {exc2}")

    def _try_init(self, immediate: bool = False) -> _Result | None:
        now = self._clock()
        if not immediate and now < self._next_init:
            if self._quiet:
                return _Result(MetricSet())
            return self._down(self._last_error or "NVML not initialised", log_it=False)
        try:
            self._init()
        except NoLibrary as exc:
            self._schedule_retry(now)
            if self.config.enabled == "auto":
                if not self._quiet:
                    log.info("gpu collector: NVML not available (%s); enabled: auto, so staying quiet", exc)
                self._quiet = True
                self._next_init = now + self.backoff[1]
                return _Result(MetricSet())
            return self._down(f"NVML library not found: {exc}")
        except (pynvml.NVMLError, Lifecycle, GpuFailed) as exc:
            self._schedule_retry(now)
            msg = nvml.describe(exc) if isinstance(exc, pynvml.NVMLError) else str(exc)
            return self._down(f"NVML initialisation failed: {msg}")
        self._quiet = False
        self._delay = self.backoff[0]
        return None

    def _schedule_retry(self, now: float) -> None:
        self._next_init = now + self._delay
        self._delay = min(self._delay * 2, self.backoff[1])

    def _down(self, error: str, log_it: bool = True) -> _Result:
        if log_it and error != self._last_error:
            log.warning("gpu collector: %s", error)
        self._last_error = error
        m = MetricSet()
        m.add("llm_gpu_nvml_up", 0)
        m.add("llm_gpu_nvml_reinitializations_total", self._reinits)
        return _Result(m, error)

    def _init(self) -> None:
        if self.config.library:
            nvml.preload(self.config.library)
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            if nvml.classify(exc) is Kind.NO_LIBRARY:
                raise NoLibrary(nvml.describe(exc)) from None
            raise
        self._initialized = True
        if self._ever_initialized:
            self._reinits += 1
        self._ever_initialized = True
        self._generation += 1
        self._system = {
            "driver_version": _sys(pynvml.nvmlSystemGetDriverVersion),
            "cuda_driver_version": _cuda(_sys(pynvml.nvmlSystemGetCudaDriverVersion_v2)),
        }
        self._enumerate()
        log.info(
            "gpu collector: NVML initialised (driver %s), %d GPUs", self._system["driver_version"], len(self._gpus)
        )

    def _teardown(self, reason: str) -> None:
        log.warning("gpu collector: re-initialising NVML after: %s", reason)
        self._initialized = False
        self._release_gpm()
        self._gpus = []
        self._count = -1
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass

    def _enumerate(self) -> None:
        count = _lifecycle(pynvml.nvmlDeviceGetCount)
        wanted = set(self.config.devices)
        gpus: list[Gpu] = []
        for i in range(count):
            handle, uuid = None, self._uuid_by_index.get(i, "")
            try:
                handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                uuid = nvml.text(pynvml.nvmlDeviceGetUUID(handle))
            except pynvml.NVMLError as exc:
                if nvml.classify(exc) is Kind.LIFECYCLE:
                    raise Lifecycle(nvml.describe(exc)) from None
                log.warning("gpu collector: GPU %d unusable at enumeration: %s", i, nvml.describe(exc))
                handle = None
            if wanted and str(i) not in wanted and uuid not in wanted:
                continue
            gpu = Gpu(index=i, uuid=uuid or f"unknown-{i}", handle=handle, labels={"gpu": str(i), "uuid": uuid})
            if uuid:
                self._uuid_by_index[i] = uuid
            if handle is not None:
                try:
                    read_info(gpu, self._system)
                except GpuFailed as exc:
                    log.warning("gpu collector: %s", exc)
                    gpu.handle = None
            gpus.append(gpu)
        self._gpus = gpus
        self._count = count
        for uuid in set(self._gpm) - {g.uuid for g in gpus if g.handle is not None}:
            self._gpm.pop(uuid).release()
        self._devices_changed()

    def _devices_changed(self) -> None:
        """Publish the GPU list to the scrape thread and the XID watcher (which re-registers)."""
        self._generation += 1
        self._index_of = {g.uuid: str(g.index) for g in self._gpus if g.labels["uuid"]}
        self._xid.update(self._generation, [(g.handle, g.uuid) for g in self._gpus if g.handle is not None])

    def _release_gpm(self) -> None:
        for state in self._gpm.values():
            state.release()
        self._gpm.clear()

    def _recover(self, gpu: Gpu) -> bool:
        """Try a lost or failing GPU again: a fresh handle, capability memo and identity. True if it answers."""
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(gpu.index)
            uuid = nvml.text(pynvml.nvmlDeviceGetUUID(handle))
        except pynvml.NVMLError as exc:
            if nvml.classify(exc) is Kind.LIFECYCLE:
                raise Lifecycle(nvml.describe(exc)) from None
            log.debug("gpu collector: GPU %d still unusable: %s", gpu.index, nvml.describe(exc))
            return False
        known = gpu.labels["uuid"]
        if known and uuid != known:  # another GPU now sits at this index: enumerate everything again
            raise Lifecycle(f"GPU {gpu.index} changed from {known} to {uuid}")
        fresh = Gpu(
            index=gpu.index,
            uuid=uuid,
            handle=handle,
            labels={"gpu": str(gpu.index), "uuid": uuid},
            retry_at=gpu.retry_at,
            retry_delay=gpu.retry_delay,
        )
        try:
            read_info(fresh, self._system)
        except GpuFailed as exc:
            log.debug("gpu collector: GPU %d still unusable: %s", gpu.index, exc)
            return False
        gpu.uuid, gpu.handle, gpu.labels, gpu.info = fresh.uuid, fresh.handle, fresh.labels, fresh.info
        gpu.skip, gpu.fields, gpu.nvlinks, gpu.gi_profiles = fresh.skip, fresh.fields, fresh.nvlinks, {}
        gpu.slow_fields, gpu.slow_values, gpu.slow_read_at = fresh.slow_fields, {}, None
        self._uuid_by_index[gpu.index] = uuid
        state = self._gpm.get(uuid)
        if state is not None:
            state.reseed()  # the counters may have restarted with the GPU
        self._devices_changed()
        return True

    def _backoff_gpu(self, gpu: Gpu, now: float) -> None:
        gpu.retry_delay = self.backoff[0] if gpu.retry_delay <= 0 else min(gpu.retry_delay * 2, self.backoff[1])
        gpu.retry_at = now + gpu.retry_delay

    def _read_all(self) -> _Result:
        count = _lifecycle(pynvml.nvmlDeviceGetCount)
        if count != self._count:
            self._enumerate()
        m = MetricSet()
        m.add("llm_gpu_nvml_up", 1)
        m.add("llm_gpu_devices", count)
        m.add("llm_gpu_nvml_reinitializations_total", self._reinits)
        failed: list[str] = []
        now = self._clock()
        for gpu in self._gpus:
            lost = gpu.handle is None or gpu.retry_delay > 0  # lost or failing: retried with backoff
            if lost and (now < gpu.retry_at or not self._recover(gpu)):
                if now >= gpu.retry_at:
                    self._backoff_gpu(gpu, now)
                m.add("llm_gpu_up", 0, gpu.labels)
                failed.append(gpu.uuid)
                continue
            part = MetricSet()
            try:
                read_gpu(gpu, part, self._opts, self._names, now)
                if self._opts.gpm:
                    read_gpm(gpu, self._gpm.setdefault(gpu.uuid, GpmState()), part, now, self.gpm_max_gap)
            except GpuFailed as exc:
                if gpu.uuid not in self._failed:
                    log.warning("gpu collector: %s", exc)
                self._backoff_gpu(gpu, now)
                m.add("llm_gpu_up", 0, gpu.labels)
                failed.append(gpu.uuid)
                continue
            gpu.retry_delay = 0.0
            m.merge(part)
            m.add("llm_gpu_up", 1, gpu.labels)
        for uuid in self._failed - set(failed):
            log.info("gpu collector: GPU %s answers again", uuid)
        self._failed = set(failed)
        self._last_error = ""
        expected = max(self._max_seen, self.config.expected_count or 0)
        self._max_seen = max(self._max_seen, count)
        if count < expected:
            return _Result(m, f"{count} GPUs visible to NVML, {expected} expected or seen before")
        return _Result(m)


def _lifecycle(fn: Callable[[], int]) -> int:
    """A system-level call whose failure means NVML must be re-initialised."""
    try:
        return fn()
    except pynvml.NVMLError as exc:
        raise Lifecycle(nvml.describe(exc)) from None


def _sys(fn: Callable[[], object]) -> str:
    try:
        return nvml.text(fn())
    except pynvml.NVMLError:
        return ""


def _cuda(raw: str) -> str:
    """12040 -> "12.4"."""
    if not raw.isdigit():
        return ""
    v = int(raw)
    return f"{v // 1000}.{(v % 1000) // 10}"
