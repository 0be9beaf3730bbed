"""The systemd unit: `systemd-analyze verify` with no warnings, plus the keys that matter."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path

from support import REPO, need_binary

UNIT = REPO / "deploy" / "systemd" / "llm-exporter.service"


def _unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str  # keys are case-sensitive in systemd
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_unit_keys() -> None:
    unit = _unit()
    svc = unit["Service"]
    argv = shlex.split(svc["ExecStart"])
    assert argv[0] == "/opt/llm-exporter/bin/llm-exporter"
    assert "--web.listen-address=:10556" in argv
    assert any(a.startswith("--config.file=") for a in argv)
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID", "reload = SIGHUP, which the exporter handles"
    assert svc["DynamicUser"] == "yes" or svc.get("User") not in (None, "root", "0"), "never root"
    assert svc["NoNewPrivileges"] == "yes" and svc["ProtectSystem"] == "strict"
    assert "PrivateDevices" not in svc, "PrivateDevices would hide /dev/nvidia* from NVML"
    assert svc["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert "network-online.target" in unit["Unit"]["After"]


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = need_binary("systemd-analyze")
    text = UNIT.read_text(encoding="utf-8")
    # verify checks that ExecStart exists: point it at a real executable of the same kind.
    exe = tmp_path / "llm-exporter"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    unit = tmp_path / "llm-exporter.service"
    unit.write_text(text.replace("/opt/llm-exporter/bin/llm-exporter", str(exe)), encoding="utf-8")
    rc, output = verify(tool, unit)
    assert rc == 0 and output == "", f"systemd-analyze reported problems:\n{output}"


def verify(tool: str, unit: Path) -> tuple[int, str]:
    """Exit status and the lines about the unit (not environment noise when systemd is not PID 1)."""
    proc = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True)
    lines = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if unit.name in line or "Unknown" in line or "Failed" in line
    ]
    return proc.returncode, "\n".join(lines)


def test_verify_catches_mistakes(tmp_path: Path) -> None:
    """The filter above must not hide real problems: an unknown key and a bad value are reported."""
    tool = need_binary("systemd-analyze")
    unit = tmp_path / "broken.service"
    unit.write_text("[Service]\nExecStart=/bin/true\nProtectSytem=strict\nRestart=sometimes\n")
    _, out = verify(tool, unit)
    assert "ProtectSytem" in out and "restart specifier" in out
