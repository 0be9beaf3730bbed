"""GPM activity ratios (Hopper and newer): one sample per GPU per scrape, ratios over the interval.

NVML's GPU Performance Monitoring computes a metric from two samples. The collector keeps
the previous scrape's sample per GPU and computes the ratios over the time between two
scrapes, so the first scrape after start (or after a GPU came back) emits nothing, and a
previous sample older than ``max_gap`` seconds is only used as a new seed (an average over
hours says little). Two sample buffers per GPU are allocated once and swapped; they are freed
when the GPU is forgotten or NVML shuts down.
"""

from __future__ import annotations

import logging
from typing import Any

import pynvml

from ...metricset import MetricSet
from . import nvml
from .device import Gpu, GpuFailed, Lifecycle
from .nvml import Kind

log = logging.getLogger(__name__)

# NVML_GPM_METRIC_* id -> exported metric (NVML gives percent; exported as ratio 0-1).
METRICS: tuple[tuple[int, str], ...] = (
    (pynvml.NVML_GPM_METRIC_GRAPHICS_UTIL, "llm_gpu_graphics_active_ratio"),
    (pynvml.NVML_GPM_METRIC_SM_UTIL, "llm_gpu_sm_active_ratio"),
    (pynvml.NVML_GPM_METRIC_SM_OCCUPANCY, "llm_gpu_sm_occupancy_ratio"),
    (pynvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL, "llm_gpu_tensor_active_ratio"),
    (pynvml.NVML_GPM_METRIC_DRAM_BW_UTIL, "llm_gpu_dram_active_ratio"),
)
SKIP_KEY = "gpm"


class GpmState:
    """The previous sample of one GPU, a spare buffer, and when the previous sample was taken."""

    def __init__(self) -> None:
        self.prev: Any = None
        self.prev_at = 0.0
        self.spare: Any = None

    def reseed(self) -> None:
        """Forget the previous sample (counters may have reset); keep the buffers."""
        if self.prev is not None and self.spare is None:
            self.spare = self.prev
        elif self.prev is not None:
            _free(self.prev)
        self.prev = None

    def release(self) -> None:
        """Free both buffers (before NVML shuts down or when the GPU is forgotten)."""
        _free(self.prev)
        _free(self.spare)
        self.prev = self.spare = None


def read_gpm(gpu: Gpu, state: GpmState, out: MetricSet, now: float, max_gap: float) -> None:
    """Take this scrape's sample and, given a recent previous one, add the ratios. Raises GpuFailed/Lifecycle."""
    if SKIP_KEY in gpu.skip:
        return
    if state.prev is None and state.spare is None:  # first use in this NVML generation: ask once
        support = gpu.call("gpm_support", pynvml.nvmlGpmQueryDeviceSupport, gpu.handle)
        if support is None or not support.isSupportedDevice:
            gpu.skip.add(SKIP_KEY)
            log.debug("gpu %s: GPM not supported", gpu.index)
            return
    sample = state.spare
    if sample is None:
        sample = _guard(gpu, pynvml.nvmlGpmSampleAlloc)
        if sample is None:
            return
        state.spare = sample
    if _guard(gpu, pynvml.nvmlGpmSampleGet, gpu.handle, sample) is None:
        return
    prev, prev_at = state.prev, state.prev_at
    state.spare, state.prev, state.prev_at = prev, sample, now
    if prev is None or now - prev_at > max_gap:
        return  # seed only: the next scrape has an interval to report on
    values = _metrics(gpu, prev, sample)
    for metric_id, name in METRICS:
        pct = values.get(metric_id)
        if pct is not None:
            out.add(name, min(max(pct / 100.0, 0.0), 1.0), gpu.labels)


def _metrics(gpu: Gpu, first: Any, second: Any) -> dict[int, float]:
    req = pynvml.c_nvmlGpmMetricsGet_t()
    req.version = pynvml.NVML_GPM_METRICS_GET_VERSION
    req.numMetrics = len(METRICS)
    req.sample1 = first
    req.sample2 = second
    for i, (metric_id, _) in enumerate(METRICS):
        req.metrics[i].metricId = metric_id
    if _guard(gpu, pynvml.nvmlGpmMetricsGet, req, memo=False) is None:
        return {}
    got: dict[int, float] = {}
    for i in range(len(METRICS)):
        m = req.metrics[i]
        if m.nvmlReturn == pynvml.NVML_SUCCESS:
            got[int(m.metricId)] = float(m.value)
    return got


_MISSING = {pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_FUNCTION_NOT_FOUND, pynvml.NVML_ERROR_NO_PERMISSION}


def _guard(gpu: Gpu, fn: Any, *args: Any, memo: bool = True) -> Any:
    """A GPM call: a missing feature switches GPM off for this GPU until re-init; other errors as usual.

    With ``memo=False`` an invalid-argument style answer only drops this interval."""
    try:
        return fn(*args)
    except (pynvml.NVMLError, pynvml.NVMLLibraryMismatchError) as exc:
        kind = nvml.classify(exc)
        if kind is Kind.UNSUPPORTED:
            if not memo and nvml.code_of(exc) not in _MISSING:
                log.debug("gpu %s: GPM interval dropped: %s", gpu.index, nvml.describe(exc))
                return None
            gpu.skip.add(SKIP_KEY)
            log.info("gpu %s: GPM unavailable: %s", gpu.index, nvml.describe(exc))
            return None
        if kind is Kind.GPU:
            raise GpuFailed(f"GPU {gpu.index} ({gpu.uuid}): GPM: {nvml.describe(exc)}") from None
        raise Lifecycle(f"GPM: {nvml.describe(exc)}") from None


def _free(sample: Any) -> None:
    if sample is None:
        return
    try:
        pynvml.nvmlGpmSampleFree(sample)
    except pynvml.NVMLError:
        pass
