"""Build the fake libnvidia-ml.so.1 (fake_nvml/fake_nvml.c) with gcc and write its scenarios.

The library is compiled once per source hash into the test cache (or a temp dir) and
loaded by the real ``pynvml`` binding: in this process by preloading it by SONAME
(``ctypes.CDLL(path, RTLD_GLOBAL)`` before ``nvmlInit``), or in a subprocess through
``LD_LIBRARY_PATH``. Scenario files are ``key=value`` text the fake re-reads when they
change; ``write_scenario`` replaces them atomically.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "fake_nvml" / "fake_nvml.c"
ENV = "FAKE_NVML_CONFIG"


def _cache_root() -> Path:
    root = os.environ.get("LLM_EXPORTER_TEST_CACHE")
    base = Path(root) if root else Path(tempfile.gettempdir()) / "llm-exporter-tests"
    return base / "fake-nvml"


def build(variant: str = "default") -> Path:
    """Compile the fake (variant ``default`` or ``old_driver``); returns the folder holding libnvidia-ml.so.1."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.fail("gcc is needed to build the fake NVML library (apt-get install gcc)")
    src = SOURCE.read_bytes()
    digest = hashlib.sha256(src + variant.encode()).hexdigest()[:16]
    out_dir = _cache_root() / f"{variant}-{digest}"
    lib = out_dir / "libnvidia-ml.so.1"
    if lib.exists():
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    defines = ["-DFAKE_OLD_DRIVER"] if variant == "old_driver" else []
    tmp = out_dir / f".build-{os.getpid()}.so"
    subprocess.run(
        [
            gcc,
            "-shared",
            "-fPIC",
            "-O2",
            "-Wall",
            "-Werror",
            "-fvisibility=hidden",
            *defines,
            "-Wl,-soname,libnvidia-ml.so.1",
            "-o",
            str(tmp),
            str(SOURCE),
            "-lpthread",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    os.replace(tmp, lib)
    return out_dir


_loaded: Path | None = None


def preload(lib_dir: Path) -> None:
    """Load the fake in this process so pynvml's CDLL("libnvidia-ml.so.1") resolves to it."""
    global _loaded
    path = lib_dir / "libnvidia-ml.so.1"
    if _loaded is not None and _loaded != path:
        raise RuntimeError(f"another fake NVML is already loaded in this process: {_loaded}")
    ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    _loaded = path


# -- scenarios ------------------------------------------------------------------------------------
GIB = 1024**3


def h100(i: int, **over: object) -> dict[str, object]:
    """A healthy H100 SXM with deterministic, index-dependent values."""
    g: dict[str, object] = {
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": f"GPU-{i:08x}-1d2b-4c3a-9e8f-a1b2c3d4e5f{i:x}",
        "serial": f"165232100{i:04d}",
        "bus_id": f"00000000:{0x18 + 0x10 * i:02X}:00.0",
        "vbios": "96.00.74.00.0D",
        "minor": i,
        "brand": 14,
        "arch": 9,
        "cc": "9.0",
        "mem_total": 80 * GIB,
        "mem_used": (10 + i) * GIB,
        "mem_reserved": 512 * 1024 * 1024,
        "util_gpu": 50 + i,
        "util_mem": 20 + i,
        "enc": 0,
        "dec": i,
        "temp": 40 + i,
        "mem_temp": 45 + i,
        "fan": 0,
        "power_mw": 350_000 + 1000 * i,
        "power_limit_mw": 700_000,
        "energy_mj": 123_456_789 + i,
        "clk_graphics": 1980,
        "clk_sm": 1980,
        "clk_mem": 2619,
        "clk_video": 1755,
        "pstate": 0,
        "clock_events": 0x4 if i == 1 else 0x1,
        "supported_events": 0x1FF,
        "viol_power": 2_500_000_000 * i,
        "viol_sync_boost": 0,
        "viol_board": 0,
        "viol_low_util": 0,
        "viol_reliability": 0,
        "viol_sw_thermal": 1_000_000_000,
        "viol_hw_thermal": 0,
        "viol_power_brake": 0,
        "ecc_sbe_vol": i,
        "ecc_dbe_vol": 0,
        "ecc_sbe_agg": 10 + i,
        "ecc_dbe_agg": 0,
        "remap_corr": 0,
        "remap_unc": 1 if i == 2 else 0,
        "remap_pending": 0,
        "remap_failure": 0,
        "recovery": 0,
        "pcie_replay": 3 * i,
        "pcie_gen": 5,
        "pcie_width": 16,
        "pcie_max_gen": 5,
        "pcie_max_width": 16,
        "pcie_tx_kb": 1000 + i,
        "pcie_rx_kb": 2000 + i,
        "nvlinks": 18,
        "nvlink_err": "0,0,1,0",
        "nvlink_tx_kib": 1024 * (i + 1),
        "nvlink_rx_kib": 2048 * (i + 1),
        "mig": 0,
        "mig_pending": 0,
        "procs": f"{4000 + i}:{8 * GIB}",
        # GPM activity in percent by NVML_GPM_METRIC_* id: graphics 1, SM 2, SM occupancy 3, any tensor 5, DRAM 10
        "gpm_supported": 1,
        "gpm": f"1:{70 + i},2:{60 + i},3:{35 + i},5:{25 + i},10:{45 + i}",
        # H100 answers NotSupported for these (fan: passively cooled; retired pages: superseded)
        "unsupported": "nvmlDeviceGetFanSpeed,nvmlDeviceGetRetiredPages,nvmlDeviceGetRetiredPagesPendingStatus",
    }
    g.update(over)
    return g


def geforce(i: int = 0, **over: object) -> dict[str, object]:
    """An RTX 4090: no ECC, no memory temperature, no MIG, no remapped rows; fan present, but the scenario
    can make it NotSupported too."""
    g = h100(
        i,
        name="NVIDIA GeForce RTX 4090",
        brand=5,
        arch=8,
        cc="8.9",
        mem_total=24 * GIB,
        mem_used=2 * GIB,
        nvlinks=0,
        serial="",
        vbios="95.02.18.80.5F",
        fan=30,
        gpm_supported=0,
        unsupported=",".join(
            [
                "nvmlDeviceGetTotalEccErrors",
                "nvmlDeviceGetFanSpeed",
                "nvmlDeviceGetRemappedRows",
                "nvmlDeviceGetRetiredPages",
                "nvmlDeviceGetRetiredPagesPendingStatus",
                "nvmlDeviceGetMigMode",
                "nvmlDeviceGetSerial",
                "field:3",
                "field:4",
                "field:5",
                "field:6",
                "field:82",
                "field:230",
            ]
        ),
    )
    g.update(over)
    return g


def render(
    gpus: Iterable[Mapping[str, object]], migs: Mapping[int, list[Mapping[str, object]]] | None = None, **system: object
) -> str:
    lines = [f"{k}={v}" for k, v in system.items() if k != "xids"]
    lines += [f"xid={g}:{x}" for g, x in system.get("xids", ())]  # type: ignore[attr-defined]
    for i, g in enumerate(gpus):
        lines.append("[gpu]")
        lines += [f"{k}={v}" for k, v in g.items()]
        for m in (migs or {}).get(i, []):
            lines.append("[mig]")
            lines += [f"{k}={v}" for k, v in m.items()]
    return "\n".join(lines) + "\n"


def write_scenario(path: Path, text: str) -> Path:
    """Replace the scenario file atomically (new inode, so the fake notices at once)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def healthy(n: int = 8, **system: object) -> str:
    return render([h100(i) for i in range(n)], **system)


# NVML calls a GPU in MIG mode does not answer (the fake reports them as not supported).
MIG_UNSUPPORTED = ",".join(
    [
        "nvmlDeviceGetUtilizationRates",
        "nvmlDeviceGetEncoderUtilization",
        "nvmlDeviceGetDecoderUtilization",
        "nvmlDeviceGetFanSpeed",
        "nvmlDeviceGetRetiredPages",
        "nvmlDeviceGetRetiredPagesPendingStatus",
    ]
)


def mig_scenario() -> str:
    """One H100 in MIG mode with a 3g.40gb GPU instance split into two compute instances and a 2g.20gb one."""
    gpu = h100(
        0,
        mig=1,
        mig_pending=1,
        procs="",
        unsupported=MIG_UNSUPPORTED,
    )
    migs = [
        {
            "gi": 1,
            "ci": 0,
            "profile_id": 9,
            "uuid": "MIG-aaaaaaaa-0000-5000-8000-000000000001",
            "mem_total": 40 * GIB,
            "mem_used": 5 * GIB,
            "procs": f"5001:{3 * GIB}",
        },
        {
            "gi": 1,
            "ci": 1,
            "profile_id": 9,
            "uuid": "MIG-aaaaaaaa-0000-5000-8000-000000000002",
            "mem_total": 40 * GIB,
            "mem_used": 5 * GIB,
            "procs": f"5002:{2 * GIB}",
        },
        {
            "gi": 2,
            "ci": 0,
            "profile_id": 14,
            "uuid": "MIG-aaaaaaaa-0000-5000-8000-000000000003",
            "mem_total": 20 * GIB,
            "mem_used": 7 * GIB,
            "procs": f"5003:{7 * GIB}",
        },
    ]
    return render([gpu, h100(1)], {0: migs})
