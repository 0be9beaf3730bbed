"""``gpu.enabled: auto`` without loading the NVML binding on a machine that has no NVML.

``AutoGpuCollector`` loads libnvidia-ml the way pynvml does (by SONAME, or the configured
``library``) on its first collection, and again every ``retry`` seconds while that fails. Only
once the library loads does it import the real ``GpuCollector`` (pynvml, the device readers, the
XID watcher) and hand every later call to it. Until then it reports what ``GpuCollector`` reports
with ``enabled: auto`` and no NVML: no series, a successful collection and one log line.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...config import GpuConfig
from ...metricset import MetricSet
from ...scrape import CollectorFailed, Deadline
from ..base import BaseCollector

if TYPE_CHECKING:
    from .collector import GpuCollector

log = logging.getLogger(__name__)

SONAME = "libnvidia-ml.so.1"  # what pynvml loads on Linux


def nvml_load_error(library: str | None) -> str | None:
    """Why libnvidia-ml cannot be loaded (as pynvml, or ``nvml.preload`` for ``library``), or None.

    A library that loads stays loaded: the binding's own ``dlopen`` then finds it at once.
    """
    if sys.platform.startswith("win") and not library:
        return None  # pynvml searches its own Windows paths: let the binding decide
    mode = os.RTLD_GLOBAL if library else os.RTLD_LOCAL  # as nvml.preload / ctypes.CDLL load it
    try:
        try:
            from _ctypes import dlopen  # what ctypes.CDLL calls, without building the ctypes module
        except ImportError:
            import ctypes

            ctypes.CDLL(library or SONAME, mode=mode)
        else:
            dlopen(library or SONAME, mode)
    except OSError as exc:
        return str(exc) or type(exc).__name__
    return None


class AutoGpuCollector(BaseCollector[GpuConfig]):
    """The ``gpu`` collector of ``enabled: auto``: the real one once NVML can be loaded."""

    name = "gpu"

    def __init__(self, config: GpuConfig, *, retry: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(config, key="gpu")
        self._retry = retry
        self._clock = clock
        self._next_try = float("-inf")
        self._logged = False
        self._loading = threading.Lock()
        self._real: GpuCollector | None = None

    @property
    def loaded(self) -> bool:
        """True once NVML loaded and the real collector took over."""
        return self._real is not None

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        real = self._real
        if real is None:
            if not self._loading.acquire(blocking=False):
                self.fallback(out)
                raise CollectorFailed("an earlier NVML call is still running (loading the library)")
            try:
                real = self._load()
            finally:
                self._loading.release()
            if real is None:
                return
        real.collect(out, deadline)

    def _load(self) -> GpuCollector | None:
        now = self._clock()
        if now < self._next_try:
            return None
        problem = nvml_load_error(self.config.library)
        if problem is not None:
            self._next_try = now + self._retry
            if not self._logged:
                log.info("gpu collector: NVML not available (%s); enabled: auto, so staying quiet", problem)
                self._logged = True
            return None
        from .collector import GpuCollector  # pynvml: only on a machine where NVML loads

        self._real = GpuCollector(self.config)
        return self._real

    def fallback(self, out: MetricSet) -> None:
        if self._real is not None:
            self._real.fallback(out)
        else:
            out.add("llm_gpu_nvml_up", 0)

    def close(self, join: float = 0.0) -> None:
        if self._real is not None:
            self._real.close(join)
