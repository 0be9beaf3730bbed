"""Reading one GPU into a ``MetricSet``: every call guarded, NotSupported remembered.

A ``Gpu`` lives from one NVML initialisation to the next. Its ``skip`` set is the
capability memo: a call that answered NotSupported (or FunctionNotFound, NoPermission, a
version mismatch) is not made again until NVML is re-initialised, which keeps GeForce and
MIG GPUs cheap to scrape and the logs quiet.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pynvml

from ...metricset import MetricSet
from . import nvml
from .nvml import Kind

log = logging.getLogger(__name__)


class GpuFailed(Exception):
    """A call on this GPU failed in a way that makes all its values untrustworthy (lost, reset needed)."""


class Lifecycle(Exception):
    """NVML itself must be shut down and initialised again."""


@dataclass(frozen=True)
class Options:
    """The opt-in parts of a GPU read."""

    processes: bool = False
    pcie_throughput: bool = False
    nvlink: bool = False
    gpm: bool = False
    slow_counters_interval: float = 10.0  # seconds between reads of nvml.SLOW_FIELDS; 0 = every read


@dataclass
class Gpu:
    """One physical GPU as enumerated after an NVML init."""

    index: int
    uuid: str
    handle: Any
    labels: dict[str, str]
    info: dict[str, str] = field(default_factory=dict)
    skip: set[str] = field(default_factory=set)
    fields: list[int] = field(default_factory=lambda: list(nvml.FAST_FIELDS))
    slow_fields: list[int] = field(default_factory=lambda: list(nvml.SLOW_FIELDS))
    slow_values: dict[int, float] = field(default_factory=dict)  # last read of the slow counters
    slow_read_at: float | None = None  # collector clock of that read
    nvlinks: int | None = None
    gi_profiles: dict[int, str] = field(default_factory=dict)  # GPU instance profile id -> "3g.40gb"
    retry_at: float = 0.0  # a lost or failing GPU is tried again from this time (collector clock)
    retry_delay: float = 0.0

    # -- guarded calls ------------------------------------------------------------------
    def call(self, key: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, or None if this call is unsupported here (remembered)."""
        if key in self.skip:
            return None
        try:
            return fn(*args)
        except (pynvml.NVMLError, pynvml.NVMLLibraryMismatchError) as exc:
            kind = nvml.classify(exc)
            if kind is Kind.UNSUPPORTED:
                self.skip.add(key)
                log.debug("gpu %s: %s not available: %s", self.index, key, nvml.describe(exc))
                return None
            if kind is Kind.GPU:
                raise GpuFailed(f"GPU {self.index} ({self.uuid}): {key}: {nvml.describe(exc)}") from None
            raise Lifecycle(f"{key}: {nvml.describe(exc)}") from None


def read_info(gpu: Gpu, system: dict[str, str]) -> None:
    """Identity labels for llm_gpu_info (read once per init)."""
    h = gpu.handle
    pci = gpu.call("pci", pynvml.nvmlDeviceGetPciInfo_v3, h)
    cc = gpu.call("cc", pynvml.nvmlDeviceGetCudaComputeCapability, h)
    brand = gpu.call("brand", pynvml.nvmlDeviceGetBrand, h)
    arch = gpu.call("arch", pynvml.nvmlDeviceGetArchitecture, h)
    minor = gpu.call("minor", pynvml.nvmlDeviceGetMinorNumber, h)
    gpu.info = {
        "name": nvml.text(gpu.call("name", pynvml.nvmlDeviceGetName, h) or ""),
        "pci_bus_id": nvml.text(pci.busId) if pci is not None else "",
        "serial": nvml.text(gpu.call("serial", pynvml.nvmlDeviceGetSerial, h) or ""),
        "minor_number": str(minor) if minor is not None else "",
        "brand": nvml.BRANDS.get(brand, "") if brand is not None else "",
        "architecture": nvml.ARCHITECTURES.get(arch, "") if arch is not None else "",
        "compute_capability": f"{cc[0]}.{cc[1]}" if cc is not None else "",
        "vbios_version": nvml.text(gpu.call("vbios", pynvml.nvmlDeviceGetVbiosVersion, h) or ""),
        **system,
    }


def read_gpu(gpu: Gpu, out: MetricSet, opts: Options, names: ProcessNames | None = None, now: float = 0.0) -> None:
    """All default (and enabled opt-in) series of one GPU at collector clock ``now``.

    Raises GpuFailed or Lifecycle.
    """
    h, L, call = gpu.handle, gpu.labels, gpu.call
    out.add("llm_gpu_info", 1, {**L, **gpu.info})

    _memory(gpu, out)
    util = call("util", pynvml.nvmlDeviceGetUtilizationRates, h)
    if util is not None:
        out.add("llm_gpu_utilization_ratio", _pct(util.gpu), L)
        out.add("llm_gpu_memory_utilization_ratio", _pct(util.memory), L)
    enc = call("encoder", pynvml.nvmlDeviceGetEncoderUtilization, h)
    if enc is not None:
        out.add("llm_gpu_encoder_utilization_ratio", _pct(enc[0]), L)
    dec = call("decoder", pynvml.nvmlDeviceGetDecoderUtilization, h)
    if dec is not None:
        out.add("llm_gpu_decoder_utilization_ratio", _pct(dec[0]), L)

    temp = call("temperature_v", pynvml.nvmlDeviceGetTemperatureV, h, pynvml.NVML_TEMPERATURE_GPU)
    if temp is None:
        temp = call("temperature", pynvml.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU)
    out.add("llm_gpu_temperature_celsius", _num(temp), L)
    fan = call("fan", pynvml.nvmlDeviceGetFanSpeed, h)
    out.add("llm_gpu_fan_speed_ratio", _pct(fan), L)

    power = call("power", pynvml.nvmlDeviceGetPowerUsage, h)
    out.add("llm_gpu_power_watts", _scale(power, 1e-3), L)
    limit = call("power_limit", pynvml.nvmlDeviceGetEnforcedPowerLimit, h)
    out.add("llm_gpu_power_limit_watts", _scale(limit, 1e-3), L)
    for clock_id, clock in nvml.CLOCKS:
        value = call(f"clock_{clock}", pynvml.nvmlDeviceGetClockInfo, h, clock_id)
        out.add("llm_gpu_clock_hertz", _scale(value, 1e6), {**L, "clock": clock})
    pstate = call("pstate", pynvml.nvmlDeviceGetPerformanceState, h)
    if pstate is not None and 0 <= pstate <= 15:
        out.add("llm_gpu_performance_state", pstate, L)
    _clock_events(gpu, out)

    slow = gpu.slow_read_at is None or now - gpu.slow_read_at >= opts.slow_counters_interval or now < gpu.slow_read_at
    fields = _fields(gpu, slow)
    _field_series(gpu, out, fields, slow)
    if slow:
        gpu.slow_read_at = now
    _retired_and_remapped(gpu, out)
    _pcie(gpu, out, opts)
    mig_procs = _mig(gpu, out)
    _processes(gpu, out, opts, mig_procs, names)
    if opts.nvlink:
        _nvlink(gpu, out)


# -- pieces ------------------------------------------------------------------------------
def _memory(gpu: Gpu, out: MetricSet) -> None:
    L = gpu.labels
    mem = gpu.call("memory_v2", pynvml.nvmlDeviceGetMemoryInfo, gpu.handle, pynvml.nvmlMemory_v2)
    if mem is not None:
        out.add("llm_gpu_memory_reserved_bytes", _u(mem.reserved), L)
    else:  # pre-510 driver: v1 'used' includes the reserved memory
        mem = gpu.call("memory", pynvml.nvmlDeviceGetMemoryInfo, gpu.handle)
    if mem is None:
        return
    out.add("llm_gpu_memory_total_bytes", _u(mem.total), L)
    out.add("llm_gpu_memory_used_bytes", _u(mem.used), L)
    out.add("llm_gpu_memory_free_bytes", _u(mem.free), L)


def _clock_events(gpu: Gpu, out: MetricSet) -> None:
    h, call = gpu.handle, gpu.call
    current = call("clock_events", pynvml.nvmlDeviceGetCurrentClocksEventReasons, h)
    supported = call("clock_events_supported", pynvml.nvmlDeviceGetSupportedClocksEventReasons, h)
    if current is None:  # drivers before the "event" rename
        current = call("throttle_reasons", pynvml.nvmlDeviceGetCurrentClocksThrottleReasons, h)
        supported = call("throttle_reasons_supported", pynvml.nvmlDeviceGetSupportedClocksThrottleReasons, h)
    if current is None:
        return
    mask = supported if supported is not None else ~0
    for bit, reason in nvml.CLOCK_EVENT_REASONS:
        if mask & bit:
            out.add("llm_gpu_clock_event_active", 1 if current & bit else 0, {**gpu.labels, "reason": reason})


def _fields(gpu: Gpu, slow: bool) -> dict[int, float]:
    """One batched nvmlDeviceGetFieldValues; each entry's own return code is checked.

    The slow counters join the batch only when ``slow`` (their interval is over); otherwise
    their last values are returned with the fresh ones.
    """
    ids = gpu.fields + gpu.slow_fields if slow else gpu.fields
    got: dict[int, float] = {}
    values = gpu.call("field_values", pynvml.nvmlDeviceGetFieldValues, gpu.handle, ids) if ids else None
    if values is None:
        return got if slow else dict(gpu.slow_values)
    dropped: list[int] = []
    for fv in values:
        rc = fv.nvmlReturn
        if rc == pynvml.NVML_SUCCESS:
            value = nvml.field_value(fv)
            if value is not None:
                got[fv.fieldId] = value
            continue
        kind = nvml.classify(pynvml.NVMLError(rc))
        if kind is Kind.UNSUPPORTED:
            dropped.append(fv.fieldId)
        elif kind is Kind.GPU:
            raise GpuFailed(f"GPU {gpu.index} ({gpu.uuid}): field {fv.fieldId}: NVML code {rc}")
        else:
            raise Lifecycle(f"field {fv.fieldId}: NVML code {rc}")
    if dropped:
        gpu.fields = [f for f in gpu.fields if f not in dropped]
        gpu.slow_fields = [f for f in gpu.slow_fields if f not in dropped]
    if slow:
        gpu.slow_values = {f: got[f] for f in gpu.slow_fields if f in got}
    else:
        got.update(gpu.slow_values)
    return got


def _field_series(gpu: Gpu, out: MetricSet, got: dict[int, float], slow: bool) -> None:
    L, h, call = gpu.labels, gpu.handle, gpu.call
    out.add("llm_gpu_memory_temperature_celsius", got.get(nvml.F_MEMORY_TEMP), L)
    # Without the field (older drivers), the same counters by their own calls, as slowly.
    energy = got.get(nvml.F_ENERGY)
    if energy is None and slow:
        energy = call("energy", pynvml.nvmlDeviceGetTotalEnergyConsumption, h)
        _keep_slow(gpu, nvml.F_ENERGY, energy)
    out.add("llm_gpu_energy_joules_total", _scale(energy, 1e-3), L)
    replays = got.get(nvml.F_PCIE_REPLAY)
    if replays is None and slow:
        replays = call("pcie_replay", pynvml.nvmlDeviceGetPcieReplayCounter, h)
        _keep_slow(gpu, nvml.F_PCIE_REPLAY, replays)
    out.add("llm_gpu_pcie_replays_total", _num(replays), L)
    recovery = got.get(nvml.F_RECOVERY_ACTION)
    out.add("llm_gpu_recovery_action", recovery, L)
    for fid, reason in nvml.F_VIOLATION:
        out.add("llm_gpu_clock_event_seconds_total", _scale(got.get(fid), 1e-9), {**L, "reason": reason})
    for fid, error, counter in nvml.F_ECC:
        value = got.get(fid)
        if value is None and fid not in gpu.fields:
            value = call(
                f"ecc_{error}_{counter}",
                pynvml.nvmlDeviceGetTotalEccErrors,
                h,
                0 if error == "corrected" else 1,
                0 if counter == "volatile" else 1,
            )
        out.add("llm_gpu_ecc_errors_total", _num(value), {**L, "error": error, "counter": counter})


def _keep_slow(gpu: Gpu, fid: int, value: Any) -> None:
    """Remember a slow counter read by its own call, served until the next slow read."""
    number = _num(value)
    if number is not None:
        gpu.slow_values[fid] = number


def _retired_and_remapped(gpu: Gpu, out: MetricSet) -> None:
    L, h, call = gpu.labels, gpu.handle, gpu.call
    remap = call("remapped_rows", pynvml.nvmlDeviceGetRemappedRows, h)
    if remap is not None:
        corr, unc, pending, failure = remap
        out.add("llm_gpu_remapped_rows", corr, {**L, "cause": "correctable"})
        out.add("llm_gpu_remapped_rows", unc, {**L, "cause": "uncorrectable"})
        out.add("llm_gpu_remapped_rows_pending", 1 if pending else 0, L)
        out.add("llm_gpu_remapped_rows_failure", 1 if failure else 0, L)
        return  # row remapping supersedes page retirement (Ampere and newer)
    for cause_id, cause in (
        (pynvml.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS, "single_bit_ecc"),
        (pynvml.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR, "double_bit_ecc"),
    ):
        pages = call(f"retired_{cause}", pynvml.nvmlDeviceGetRetiredPages, h, cause_id)
        if pages is not None:
            out.add("llm_gpu_retired_pages", len(pages), {**L, "cause": cause})
    pending = call("retired_pending", pynvml.nvmlDeviceGetRetiredPagesPendingStatus, h)
    if pending is not None:
        out.add("llm_gpu_retired_pages_pending", 1 if pending else 0, L)


def _pcie(gpu: Gpu, out: MetricSet, opts: Options) -> None:
    L, h, call = gpu.labels, gpu.handle, gpu.call
    for state, gen_fn, width_fn in (
        ("current", pynvml.nvmlDeviceGetCurrPcieLinkGeneration, pynvml.nvmlDeviceGetCurrPcieLinkWidth),
        ("max", pynvml.nvmlDeviceGetMaxPcieLinkGeneration, pynvml.nvmlDeviceGetMaxPcieLinkWidth),
    ):
        out.add("llm_gpu_pcie_link_generation", _num(call(f"pcie_gen_{state}", gen_fn, h)), {**L, "state": state})
        out.add("llm_gpu_pcie_link_width", _num(call(f"pcie_width_{state}", width_fn, h)), {**L, "state": state})
    if opts.pcie_throughput:  # each call samples a 20 ms window in the driver
        tx = call("pcie_tx", pynvml.nvmlDeviceGetPcieThroughput, h, pynvml.NVML_PCIE_UTIL_TX_BYTES)
        rx = call("pcie_rx", pynvml.nvmlDeviceGetPcieThroughput, h, pynvml.NVML_PCIE_UTIL_RX_BYTES)
        out.add("llm_gpu_pcie_transmit_bytes_per_second", _scale(tx, 1024), L)
        out.add("llm_gpu_pcie_receive_bytes_per_second", _scale(rx, 1024), L)


def _mig(gpu: Gpu, out: MetricSet) -> list[Any]:
    """MIG mode, and per GPU instance: info and memory (once per GI, never per CI). Returns MIG handles."""
    L, h, call = gpu.labels, gpu.handle, gpu.call
    mode = call("mig_mode", pynvml.nvmlDeviceGetMigMode, h)
    if mode is None:
        return []
    out.add("llm_gpu_mig_mode", 1 if mode[0] else 0, {**L, "state": "current"})
    out.add("llm_gpu_mig_mode", 1 if mode[1] else 0, {**L, "state": "pending"})
    if not mode[0]:
        return []
    slots = call("mig_count", pynvml.nvmlDeviceGetMaxMigDeviceCount, h) or 0
    handles: list[Any] = []
    seen_gi: set[int] = set()
    profiles: dict[int, str] = {}
    for i in range(slots):
        mh = _mig_call(gpu, pynvml.nvmlDeviceGetMigDeviceHandleByIndex, h, i)
        if mh is None:
            continue  # empty slot (NotFound / InvalidArgument)
        gi = _mig_call(gpu, pynvml.nvmlDeviceGetGpuInstanceId, mh)
        ci = _mig_call(gpu, pynvml.nvmlDeviceGetComputeInstanceId, mh)
        mig_uuid = _mig_call(gpu, pynvml.nvmlDeviceGetUUID, mh)
        if gi is None:
            continue
        handles.append(mh)
        gil = {**L, "gpu_instance_id": str(gi)}
        if gi not in profiles:
            profiles[gi] = _gi_profile(gpu, gi)
        out.add(
            "llm_gpu_mig_instance_info",
            1,
            {
                **gil,
                "compute_instance_id": "" if ci is None else str(ci),
                "mig_uuid": nvml.text(mig_uuid or ""),
                "profile": profiles[gi],
            },
        )
        if gi in seen_gi:
            continue  # memory belongs to the GPU instance: its compute instances share it
        seen_gi.add(gi)
        mem = _mig_call(gpu, pynvml.nvmlDeviceGetMemoryInfo, mh, pynvml.nvmlMemory_v2)
        if mem is None:
            mem = _mig_call(gpu, pynvml.nvmlDeviceGetMemoryInfo, mh)
        if mem is not None:
            out.add("llm_gpu_mig_memory_total_bytes", _u(mem.total), gil)
            out.add("llm_gpu_mig_memory_used_bytes", _u(mem.used), gil)
    return handles


def _gi_profile(gpu: Gpu, gi: int) -> str:
    """The profile name of GPU instance ``gi`` ("3g.40gb"), or "" when NVML does not say (privileges)."""
    gi_handle = _mig_call(gpu, pynvml.nvmlDeviceGetGpuInstanceById, gpu.handle, gi)
    info = None if gi_handle is None else _mig_call(gpu, pynvml.nvmlGpuInstanceGetInfo, gi_handle)
    if info is None:
        return ""
    profile_id = int(info.profileId)
    name = gpu.gi_profiles.get(profile_id)
    if name is None:  # profiles are fixed per GPU: look each id up once per NVML initialisation
        name = gpu.gi_profiles[profile_id] = _profile_name(gpu, profile_id)
    return name


def _profile_name(gpu: Gpu, profile_id: int) -> str:
    h = gpu.handle
    info = gpu.call("gi_profile_by_id", pynvml.nvmlDeviceGetGpuInstanceProfileInfoByIdV, h, profile_id)
    if info is None:  # drivers without ...ProfileInfoByIdV: scan the profile indices for the id
        for index in range(pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT):
            candidate = _mig_call(gpu, pynvml.nvmlDeviceGetGpuInstanceProfileInfoV, h, index)
            if candidate is not None and int(candidate.id) == profile_id:
                info = candidate
                break
    if info is None:
        return ""
    return nvml.text(info.name).strip().removeprefix("MIG ").strip()


def _mig_call(gpu: Gpu, fn: Callable[..., Any], *args: Any) -> Any:
    """A call on one MIG slot: unsupported/empty answers are None but not memoised (slots change)."""
    try:
        return fn(*args)
    except (pynvml.NVMLError, pynvml.NVMLLibraryMismatchError) as exc:
        kind = nvml.classify(exc)
        if kind is Kind.UNSUPPORTED:
            return None
        if kind is Kind.GPU:
            raise GpuFailed(f"GPU {gpu.index} ({gpu.uuid}): MIG: {nvml.describe(exc)}") from None
        raise Lifecycle(f"MIG: {nvml.describe(exc)}") from None


def _running(gpu: Gpu, handle: Any, key: str) -> list[Any] | None:
    procs: list[Any] | None = gpu.call(f"{key}_v3", pynvml.nvmlDeviceGetComputeRunningProcesses, handle)
    if procs is None:  # drivers before 510.39 only have the _v2 symbol
        procs = gpu.call(f"{key}_v2", pynvml.nvmlDeviceGetComputeRunningProcesses_v2, handle)
    return procs


def _processes(gpu: Gpu, out: MetricSet, opts: Options, mig_handles: list[Any], names: ProcessNames | None) -> None:
    L = gpu.labels
    lists: list[list[Any]] = []
    parent = _running(gpu, gpu.handle, "procs")
    if parent is not None:
        lists.append(parent)
    for i, mh in enumerate(mig_handles):
        procs = _running(gpu, mh, f"mig{i}_procs")
        if procs is not None:
            lists.append(procs)
    if not lists:
        return
    by_pid: dict[int, int] = {}
    for procs in lists:
        for p in procs:
            used = p.usedGpuMemory
            by_pid[int(p.pid)] = by_pid.get(int(p.pid), 0) + (0 if used is None or used == nvml.ULL_NA else int(used))
    out.add("llm_gpu_processes", len(by_pid), L)
    if not opts.processes or names is None:
        return
    for pid, used in by_pid.items():
        name, container = names.lookup(pid)
        out.add(
            "llm_gpu_process_memory_bytes", used, {**L, "pid": str(pid), "process": name, "container_id": container}
        )


def _nvlink(gpu: Gpu, out: MetricSet) -> None:
    L, h = gpu.labels, gpu.handle
    if gpu.nvlinks is None:  # probe the link count once per init
        n = 0
        while n < pynvml.NVML_NVLINK_MAX_LINKS:
            if gpu.call(f"nvlink_state_{n}", pynvml.nvmlDeviceGetNvLinkState, h, n) is None:
                break
            n += 1
        gpu.nvlinks = n
    if not gpu.nvlinks:
        return
    scoped = [(fid, link) for link in range(gpu.nvlinks) for fid in (nvml.F_NVLINK_TX, nvml.F_NVLINK_RX)]
    values = gpu.call("nvlink_fields", pynvml.nvmlDeviceGetFieldValues, h, scoped)
    bytes_by: dict[tuple[int, int], float] = {}
    for fv in values or ():
        if fv.nvmlReturn == pynvml.NVML_SUCCESS:
            v = nvml.field_value(fv)
            if v is not None:
                bytes_by[(fv.fieldId, fv.scopeId)] = v * 1024  # KiB
    for link in range(gpu.nvlinks):
        ll = {**L, "link": str(link)}
        active = gpu.call(f"nvlink_state_{link}", pynvml.nvmlDeviceGetNvLinkState, h, link)
        out.add("llm_gpu_nvlink_active", None if active is None else (1 if active else 0), ll)
        for counter, error in nvml.NVLINK_ERRORS:
            value = gpu.call(f"nvlink_err_{link}_{error}", pynvml.nvmlDeviceGetNvLinkErrorCounter, h, link, counter)
            out.add("llm_gpu_nvlink_errors_total", _num(value), {**ll, "error": error})
        out.add("llm_gpu_nvlink_transmit_bytes_total", bytes_by.get((nvml.F_NVLINK_TX, link)), ll)
        out.add("llm_gpu_nvlink_receive_bytes_total", bytes_by.get((nvml.F_NVLINK_RX, link)), ll)


# -- process names and containers -----------------------------------------------------------
_CONTAINER_ID = re.compile(r"([0-9a-f]{64})")


def container_id(cgroup_text: str) -> str:
    """The container id (64 hex digits) in a /proc/PID/cgroup text, or '' outside containers."""
    for line in cgroup_text.splitlines():
        path = line.rsplit(":", 1)[-1]
        ids = _CONTAINER_ID.findall(path)
        if ids:
            return str(ids[-1])
    return ""


class ProcessNames:
    """pid -> (process name, container id), cached with a bound (PIDs churn)."""

    def __init__(self, proc: Path = Path("/proc"), limit: int = 4096) -> None:
        self.proc = proc
        self.limit = limit
        self._cache: dict[int, tuple[str, str]] = {}

    def lookup(self, pid: int) -> tuple[str, str]:
        hit = self._cache.get(pid)
        if hit is not None:
            return hit
        if len(self._cache) >= self.limit:
            self._cache.clear()
        name = ""
        try:
            name = nvml.text(pynvml.nvmlSystemGetProcessName(pid))
        except Exception:  # not visible without the host PID namespace
            try:
                name = (self.proc / str(pid) / "comm").read_text().strip()
            except OSError:
                name = ""
        name = name.rsplit("/", 1)[-1]
        try:
            cid = container_id((self.proc / str(pid) / "cgroup").read_text())
        except OSError:
            cid = ""
        self._cache[pid] = (name, cid)
        return name, cid


# -- units --------------------------------------------------------------------------------
def _num(v: Any) -> float | None:
    return None if v is None else nvml.uint(v)


def _u(v: Any) -> float | None:
    return None if v is None else nvml.uint(v)


def _pct(v: Any) -> float | None:
    n = _num(v)
    return None if n is None else n / 100.0


def _scale(v: Any, factor: float) -> float | None:
    n = _num(v) if isinstance(v, int) else v
    return None if n is None else float(n) * factor
