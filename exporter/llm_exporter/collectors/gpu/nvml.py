"""Thin layer over ``pynvml`` (nvidia-ml-py): loading, error classes, constants, sentinels.

Everything else in the gpu collector talks to NVML through the real binding; this module
only adds what the binding leaves to its callers: how to load a library from a configured
path, which return codes mean "feature missing", "this GPU is broken" or "NVML itself must
be re-initialised", and which values are NVML's "not available" sentinels.
"""

from __future__ import annotations

import ctypes
import enum
import logging
from typing import Any

import pynvml

log = logging.getLogger(__name__)

XID_EVENT = pynvml.nvmlEventTypeXidCriticalError
UINT_NA = 0xFFFFFFFF
ULL_NA = 0xFFFFFFFFFFFFFFFF

# Clock-event (throttle) reason bits of nvmlDeviceGetCurrentClocksEventReasons.
CLOCK_EVENT_REASONS: tuple[tuple[int, str], ...] = (
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
)

# Field ids read in one nvmlDeviceGetFieldValues batch per GPU.
F_ECC = (
    (3, "corrected", "volatile"),
    (4, "uncorrected", "volatile"),
    (5, "corrected", "aggregate"),
    (6, "uncorrected", "aggregate"),
)
# Cumulative time (nanoseconds) the clocks were held back, per reason.
F_VIOLATION = (
    (74, "sw_power_cap"),
    (76, "sync_boost"),
    (77, "board_limit"),
    (78, "low_utilization"),
    (79, "reliability"),
    (269, "sw_thermal_slowdown"),
    (270, "hw_thermal_slowdown"),
    (271, "hw_power_brake_slowdown"),
)
F_MEMORY_TEMP = 82
F_ENERGY = 83
F_PCIE_REPLAY = 94
F_RECOVERY_ACTION = 230
F_NVLINK_TX = 138
F_NVLINK_RX = 139
# Read in every collection: microseconds each in the driver.
FAST_FIELDS: tuple[int, ...] = (*(f for f, _, _ in F_ECC), F_MEMORY_TEMP, F_RECOVERY_ACTION)
# Counters that cost the driver milliseconds per GPU (measured on an H200, driver 580: energy
# 4.3 ms, hardware thermal and power-brake throttle time 1.2 and 0.7 ms, PCIe replays 0.24 ms),
# read at most once per gpu.slow_counters_interval and served from the last read in between.
SLOW_FIELDS: tuple[int, ...] = (*(f for f, _ in F_VIOLATION), F_ENERGY, F_PCIE_REPLAY)
DEFAULT_FIELDS: tuple[int, ...] = FAST_FIELDS + SLOW_FIELDS

CLOCKS = (
    (pynvml.NVML_CLOCK_GRAPHICS, "graphics"),
    (pynvml.NVML_CLOCK_SM, "sm"),
    (pynvml.NVML_CLOCK_MEM, "memory"),
    (pynvml.NVML_CLOCK_VIDEO, "video"),
)
NVLINK_ERRORS = (
    (pynvml.NVML_NVLINK_ERROR_DL_REPLAY, "replay"),
    (pynvml.NVML_NVLINK_ERROR_DL_RECOVERY, "recovery"),
    (pynvml.NVML_NVLINK_ERROR_DL_CRC_FLIT, "crc_flit"),
    (pynvml.NVML_NVLINK_ERROR_DL_CRC_DATA, "crc_data"),
)


class Kind(enum.Enum):
    """What an NVML error means for the collector."""

    UNSUPPORTED = "unsupported"  # this call/field does not exist here: remember and skip until re-init
    GPU = "gpu"  # this GPU is lost or erroring: llm_gpu_up 0, others continue
    LIFECYCLE = "lifecycle"  # NVML itself is gone (driver reload, ...): shut down and re-initialise
    NO_LIBRARY = "no_library"  # libnvidia-ml.so.1 cannot be loaded at all


_UNSUPPORTED = {
    pynvml.NVML_ERROR_NOT_SUPPORTED,
    pynvml.NVML_ERROR_FUNCTION_NOT_FOUND,
    pynvml.NVML_ERROR_NO_PERMISSION,
    pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH,
    pynvml.NVML_ERROR_INVALID_ARGUMENT,
    pynvml.NVML_ERROR_NOT_FOUND,
    pynvml.NVML_ERROR_DEPRECATED,
}
_LIFECYCLE = {
    pynvml.NVML_ERROR_UNINITIALIZED,
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
    pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH,
    pynvml.NVML_ERROR_GPU_NOT_FOUND,
}


def classify(exc: BaseException) -> Kind:
    """Map an exception raised by a pynvml call to what the collector should do."""
    if isinstance(exc, pynvml.NVMLLibraryMismatchError):
        return Kind.UNSUPPORTED
    code = getattr(exc, "value", None)
    if code == pynvml.NVML_ERROR_LIBRARY_NOT_FOUND:
        return Kind.NO_LIBRARY
    if code in _UNSUPPORTED:
        return Kind.UNSUPPORTED
    if code in _LIFECYCLE:
        return Kind.LIFECYCLE
    return Kind.GPU


def code_of(exc: BaseException) -> int | None:
    """The NVML return code carried by an NVMLError (None for other exceptions)."""
    return getattr(exc, "value", None) if isinstance(exc, pynvml.NVMLError) else None


def describe(exc: BaseException) -> str:
    """A short text for logs: the NVML error string and code."""
    code = code_of(exc)
    try:
        text = str(exc)
    except Exception:  # pynvml calls nvmlErrorString, which needs the library
        text = type(exc).__name__
    return f"{text} (NVML code {code})" if code is not None else f"{type(exc).__name__}: {text}"


class NoLibrary(Exception):
    """NVML could not be loaded (no driver, or a container without the ``utility`` capability)."""


_preloaded: dict[str, Any] = {}


def preload(path: str) -> None:
    """Load ``path`` with RTLD_GLOBAL so pynvml's ``CDLL("libnvidia-ml.so.1")`` resolves to it by SONAME."""
    if path in _preloaded:
        return
    try:
        _preloaded[path] = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        raise NoLibrary(f"cannot load NVML library {path}: {exc}") from None


def text(value: Any) -> str:
    """pynvml returns ``str`` (current releases) or ``bytes`` (old ones)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def uint(value: Any) -> int | None:
    """An unsigned int result, or None for NVML's 'not available' sentinel."""
    v = int(value)
    return None if v in (UINT_NA, ULL_NA) else v


def field_value(fv: Any) -> float | None:
    """The value of one nvmlFieldValue_t entry, by its valueType; None for sentinels."""
    t = fv.valueType
    u = fv.value
    if t == pynvml.NVML_VALUE_TYPE_DOUBLE:
        return float(u.dVal)
    if t == pynvml.NVML_VALUE_TYPE_UNSIGNED_INT:
        return _na(u.uiVal, UINT_NA)
    if t == pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG:
        return _na(u.ulVal, ULL_NA)
    if t == pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
        return _na(u.ullVal, ULL_NA)
    if t == pynvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG:
        return float(u.sllVal)
    if t == pynvml.NVML_VALUE_TYPE_SIGNED_INT:
        return float(u.siVal)
    if t == pynvml.NVML_VALUE_TYPE_UNSIGNED_SHORT:
        return float(u.usVal)
    return None


def _na(v: int, sentinel: int) -> float | None:
    return None if v == sentinel else float(v)


def handle_key(handle: Any) -> int:
    """A hashable identity of a device handle (the C pointer value)."""
    return int(ctypes.cast(handle, ctypes.c_void_p).value or 0)


def _names(prefix: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for name, value in vars(pynvml).items():
        if name.startswith(prefix) and isinstance(value, int) and not name.endswith(("_COUNT", "_UNKNOWN")):
            out.setdefault(value, name[len(prefix) :].lower())
    return out


BRANDS = _names("NVML_BRAND_")
ARCHITECTURES = _names("NVML_DEVICE_ARCH_")
