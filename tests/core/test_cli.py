"""The command line: flags, their LLM_EXPORTER_* variables, commands and usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from llm_exporter import __version__
from llm_exporter.cli import parse
from llm_exporter.healthcheck import ServerFlags, parse_server_flags

LISTEN = "LLM_EXPORTER_WEB_LISTEN_ADDRESS"


def test_a_flag_beats_its_variable_which_beats_the_default() -> None:
    env = {LISTEN: ":7"}
    assert parse(["--web.listen-address=:1"], env)[1]["listen_address"] == ":1"
    assert parse([], env)[1]["listen_address"] == ":7"
    assert parse([], {})[1]["listen_address"] == ":10556"
    assert parse([], {LISTEN: ""})[1]["listen_address"] == ":10556"  # empty counts as unset
    assert parse(["--web.listen-address", ":1", "--web.listen-address=:2"], {})[1]["listen_address"] == ":2"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        ([], {}),
        (["--web.listen-address=:1", "--web.config.file", "w.yml"], {}),
        ([], {LISTEN: ":7", "LLM_EXPORTER_WEB_CONFIG_FILE": "/w"}),
        (["--web.listen-address=:1"], {LISTEN: ":7"}),
        (["--web.listen-address=:1", "serve", "--web.listen-address=:3"], {}),
        (["--web.listen-address=:1", "serve"], {}),
        (["--web.config.file=a.yml", "serve"], {"LLM_EXPORTER_WEB_CONFIG_FILE": "/w"}),
    ],
)
def test_serve_uses_the_flags_the_healthcheck_reads(args: list[str], env: dict[str, str]) -> None:
    """Flags before ``serve`` do not count for it; ``healthcheck`` finds the server by the same rules."""
    name, values = parse(args, env)
    assert name == "serve"
    want = ServerFlags(values["listen_address"], values["web_config_file"])
    assert parse_server_flags(["llm-exporter", *args], env) == want


def test_typed_values_switches_and_repeated_flags() -> None:
    env = {"LLM_EXPORTER_WEB_MAX_CONNECTIONS": "5", "LLM_EXPORTER_WEB_READ_HEADER_TIMEOUT": "0.5"}
    values = parse([], env)[1]
    assert (values["max_connections"], values["read_header_timeout"], values["max_requests"]) == (5, 0.5, 40)
    assert parse([], {"LLM_EXPORTER_WEB_ENABLE_LIFECYCLE": "yes"})[1]["enable_lifecycle"] is True
    assert parse([], {"LLM_EXPORTER_WEB_ENABLE_LIFECYCLE": "0"})[1]["enable_lifecycle"] is False
    assert parse(["--web.enable-lifecycle"], {})[1]["enable_lifecycle"] is True
    assert parse([], {})[1]["enable_lifecycle"] is False
    assert parse(["discover", "--port", "1", "--port=2"], {}) == (
        "discover",
        {"host": "127.0.0.1", "ports": (1, 2), "timeout": 5.0},
    )
    assert parse(["discover"], {})[1]["ports"] == ()
    # a command takes only its own flags, and no variable of serve's
    assert parse(["check-config"], {"LLM_EXPORTER_WEB_MAX_CONNECTIONS": "0"}) == ("check-config", {"config_file": None})
    name, values = parse(["scrape-once", "--openmetrics", "--timeout=2"], {"LLM_EXPORTER_LOG_LEVEL": "debug"})
    assert (name, values["openmetrics"], values["timeout"], values["log_level"]) == ("scrape-once", True, 2.0, "debug")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--log.level=loud"], {}, "invalid value for --log.level: 'loud' is not one of 'debug', 'info'"),
        (
            [],
            {"LLM_EXPORTER_WEB_MAX_CONNECTIONS": "0"},
            "--web.max-connections (from LLM_EXPORTER_WEB_MAX_CONNECTIONS)",
        ),
        ([], {"LLM_EXPORTER_WEB_ENABLE_LIFECYCLE": "maybe"}, "'maybe' is not a valid boolean"),
        (["--web.read-header-timeout=0.01"], {}, "0.01 is not in the range x>=0.1"),
        (["--web.max-requests=many"], {}, "'many' is not a valid integer"),
        (["serve", "--config.file=."], {}, "file '.' is a directory"),
        (["no-such-command"], {}, "invalid choice: 'no-such-command'"),
        (["--web.listen"], {}, "unrecognized arguments: --web.listen"),  # no abbreviations
        (["check-config", "--web.listen-address=:1"], {}, "unrecognized arguments"),
    ],
)
def test_a_bad_command_line_is_a_usage_error(
    args: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        parse(args, env)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("usage: llm-exporter"), err


def test_version_and_help() -> None:
    run = [sys.executable, "-m", "llm_exporter"]
    version = subprocess.run([*run, "--version"], capture_output=True, text=True, timeout=60)
    assert (version.returncode, version.stdout) == (0, f"llm-exporter, version {__version__}\n")
    helped = subprocess.run([*run, "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0
    for flag in ("--config.file", "--web.listen-address", "--web.max-connections", "--log.format"):
        assert flag in helped.stdout
    assert "LLM_EXPORTER_WEB_LISTEN_ADDRESS" in helped.stdout and "default: :10556" in helped.stdout
