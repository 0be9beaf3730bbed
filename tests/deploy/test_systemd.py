"""The systemd unit: `systemd-analyze verify` with no warnings, plus the keys that matter."""

from __future__ import annotations

import configparser
import shlex
import subprocess
import sys
from pathlib import Path

from llm_exporter.cli import EXIT_INVALID_CONFIG
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


def test_config_is_required_and_its_absence_does_not_restart_loop(tmp_path: Path) -> None:
    """ExecStart needs the config: a missing file fails the start once, an invalid one is not restarted."""
    unit = _unit()
    argv = shlex.split(unit["Service"]["ExecStart"])
    config = next(a.partition("=")[2] for a in argv if a.startswith("--config.file="))
    assert unit["Unit"]["AssertPathExists"] == config
    assert str(EXIT_INVALID_CONFIG) in unit["Service"]["RestartPreventExitStatus"].split()
    assert "optional" not in UNIT.read_text(encoding="utf-8"), "the comments must not call the config optional"
    bad = tmp_path / "config.yml"
    bad.write_text("gpu: [\n")
    for path in (tmp_path / "missing.yml", bad):
        proc = subprocess.run(
            [sys.executable, "-m", "llm_exporter", f"--config.file={path}", "--web.listen-address=127.0.0.1:0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == EXIT_INVALID_CONFIG, (path, proc.returncode, proc.stderr)


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
