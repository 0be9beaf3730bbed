"""Issue 10 items 3, 5 and 15: ``${VAR}`` values are verbatim strings, config errors are one
line each with key and line and never show a secret, and credentials are redacted in logs,
errors and metric labels. Real sockets: an upstream that records what the exporter sends,
and the real ``llm-exporter`` process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from exporter_proc import run_exporter
from http_upstream import Upstream, fixture, send
from llm_exporter.config import ConfigError, load_config_text
from llm_exporter.redact import redact, redact_url, set_secrets
from llm_exporter.runtime import Runtime
from support import free_port, wait_for

# Every value issue 10 lists: YAML would read them as numbers, booleans, null, a comment,
# or fail on them (alias, tag, directive, reserved, flow mapping, quotes, block scalar).
TRICKY = ["0777", "yes", "1:30", "~", "S3cret #x", "*S3c", "!S3c", "%S3c", "@S3c", "{S3c", '"S3c', "'S3c", "|S3c"]
QUIET = "gpu:\n  enabled: false\n"


@pytest.fixture(autouse=True)
def _forget_secrets() -> object:
    """An in-process Runtime registers its config's secrets for redaction; start each test clean."""
    set_secrets([])
    yield
    set_secrets([])


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "llm_exporter", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def targets_with_tokens(port: int, n: int) -> str:
    """``n`` inference targets on one upstream, target i sending ``Bearer ${T<i>}``."""
    lines = [QUIET, "scrape:\n  min_interval: 0s\n", "inference:\n"]
    for i in range(n):
        lines.append(
            f"  - name: t{i}\n    url: http://127.0.0.1:{port}\n    server: vllm\n    bearer_token: ${{T{i}}}\n"
        )
    return "".join(lines)


def test_env_value_is_sent_verbatim_as_bearer_token() -> None:
    """The upstream receives exactly the environment variable's value (old code: ``Bearer 511``)."""
    with Upstream({"/metrics": send(body=fixture("vllm-v1.prom"))}) as up:
        env = {f"T{i}": v for i, v in enumerate(TRICKY)}
        runtime = Runtime(None, load_config_text(targets_with_tokens(up.port, len(TRICKY)), env=env))
        try:
            runtime.collect(10)
        finally:
            runtime.close()
        sent = {h.get("Authorization") for _, path, h, _ in up.requests if path == "/metrics"}
    assert sent == {f"Bearer {v}" for v in TRICKY}


def test_check_config_and_serve_accept_every_tricky_value(tmp_path: Path) -> None:
    """Values YAML cannot parse are still just strings: no crash, no traceback, no secret."""
    env = {f"T{i}": v for i, v in enumerate(TRICKY)}
    cfg = tmp_path / "c.yml"
    cfg.write_text(targets_with_tokens(free_port(), len(TRICKY)))
    res = run_cli("check-config", f"--config.file={cfg}", env=env)
    assert res.returncode == 0, res.stderr
    with run_exporter(cfg.read_text(), tmp_path, env=env) as exp:
        assert "llm_target_up" in exp.metrics()
        assert "Traceback" not in exp.logs()


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("timeout", "1:30", "inference[0].timeout: must be a duration like 15s, 2m or 500ms, got '1:30' (line 5)"),
        ("max_samples", "0777x", "inference[0].max_samples: must be an integer, got '0777x' (line 5)"),
        ("max_samples", "~", "inference[0].max_samples: must be an integer, got '~' (line 5)"),
        ("timeout", "*x", "inference[0].timeout: must be a duration like 15s, 2m or 500ms, got '*x' (line 5)"),
    ],
)
def test_typed_field_converts_env_string_like_a_literal(field: str, value: str, expected: str) -> None:
    text = f"inference:\n  - name: a\n    url: http://h:1\n    server: vllm\n    {field}: ${{V}}\n"
    with pytest.raises(ConfigError) as info:
        load_config_text(text, env={"V": value})
    assert info.value.errors == [expected]


def test_typed_field_from_env_keeps_its_type() -> None:
    text = "inference:\n  - name: a\n    url: http://h:${P}\n    max_samples: ${N}\n    timeout: ${T}\n"
    cfg = load_config_text(text, env={"P": "0777", "N": "0777", "T": "1m"})
    assert (cfg.inference[0].url, cfg.inference[0].max_samples, cfg.inference[0].timeout) == (
        "http://h:0777",
        777,
        60.0,
    )


def test_string_literal_is_taken_as_written() -> None:
    cfg = load_config_text("inference:\n  - name: 0777\n    url: http://h:1\n    model: 1:30\n")
    assert (cfg.inference[0].name, cfg.inference[0].model) == ("0777", "1:30")


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    """Every config error: exit 2, one line per error naming key and line, no secret, no traceback."""
    cfg = tmp_path / "bad.yml"
    cfg.write_text(
        QUIET
        + "inference:\n"
        + "  - name: a\n    url: http://alice:S3cretPw@h:99999/?token=S3cretTok\n"
        + "    bearer_token: [S3cretList]\n"
        + "  - name: b\n    url: 'http://bob:S3cretTwo@[::1'\n    timeout: ${TMO}\n"
        + "queues:\n  - name: q\n    backend: redis\n    url: redis://:S3cretRedis@h:1\n"
        + "    password: {a: S3cretMap}\n"
        + "scrape:\n  timeout: 1s\n  timeout_offset: 1s\n"
    )
    res = run_cli("check-config", f"--config.file={cfg}", env={"TMO": "!S3cretTag"})
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert "S3cret" not in res.stderr.replace("!S3cretTag", ""), res.stderr
    assert "Traceback" not in res.stderr
    expected = [
        "inference[0].url: not a URL: 'http://alice:xxxxx@h:99999/?token=xxxxx' (bad port) (line 5)",
        "inference[0].bearer_token: must be a single string (the value is not shown: it is a secret) (line 6)",
        "inference[1].url: not a URL: 'http://bob:xxxxx@[::1' (malformed host) (line 8)",
        "inference[1].timeout: must be a duration like 15s, 2m or 500ms, got '!S3cretTag' (line 9)",
        "queues[0].password: must be a single string (the value is not shown: it is a secret) (line 14)",
        "scrape.timeout_offset: must be less than scrape.timeout (1s), got 1s",
    ]
    assert len(lines) == len(expected), lines
    for line, want in zip(lines, expected, strict=True):
        assert line.startswith("llm-exporter: invalid config ") and want in line, (line, want)
    res = run_cli(f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{free_port()}", env={"TMO": "1s"})
    assert res.returncode == 2 and "S3cret" not in res.stderr and "Traceback" not in res.stderr


def test_target_name_cannot_hold_a_credential() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text("inference:\n  - name: http://u:S3cretLabel@h\n    url: http://h:1\n")
    assert info.value.errors == [
        "inference[0].name: must not hold a credential (a URL password or a token parameter): "
        "it is the target label (line 2)"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "inference:\n  - name: a\n    url: !tag http://h:1\n",
        "inference:\n  - name: a\n    url: http://h:1\n    timeout: 2001-13-45\n",
        "gpu:\n  expected_count: !!int x\n",
        "gpu: " + "[" * 700 + "]" * 700 + "\n",
        "scrape:\n  timeout: .inf\n",
    ],
    ids=["unknown-tag", "bad-timestamp", "bad-int-tag", "deep-nesting", "infinite-duration"],
)
def test_odd_yaml_is_a_config_error_not_a_crash(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(text)
    assert all(": " in e for e in info.value.errors)


def test_timeout_offset_must_be_below_timeout() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text("scrape:\n  timeout: 2s\n  timeout_offset: 3s\n")
    assert info.value.errors == [
        "scrape.timeout_offset: must be less than scrape.timeout (2s), got 3s: "
        "every scrape would get no time at all (line 3)"
    ]
    assert load_config_text("scrape:\n  timeout: 2s\n  timeout_offset: 1s\n").scrape.timeout_offset == 1.0


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("http://u:pw@h:1/p?token=t&x=1", "http://u:xxxxx@h:1/p?token=xxxxx&x=1"),
        ("amqp://guest:p@ss@h/", "amqp://guest:xxxxx@h/"),
        ("redis://:pw@h:6379/0", "redis://:xxxxx@h:6379/0"),
        ("http://h:80/a@b", "http://h:80/a@b"),
        ("http://h/?api_key=k&bearer_token=b&password=p", "http://h/?api_key=xxxxx&bearer_token=xxxxx&password=xxxxx"),
        ("http://user@h/", "http://user@h/"),
    ],
)
def test_redact_url(raw: str, want: str) -> None:
    assert redact_url(raw) == want
    assert redact(f"failed: GET {raw} refused") == f"failed: GET {want} refused"


def test_credentials_redacted_in_logs_and_labels(tmp_path: Path) -> None:
    """Inference, RabbitMQ and NATS targets whose URLs carry credentials, all refused: the
    warn lines show ``xxxxx``, never the password or token, and no label carries them (a
    target name, the only label made from config, cannot hold a credential)."""
    dead = free_port()
    cfg = (
        QUIET
        + "inference:\n"
        + f"  - name: vllm-a\n    url: http://alice:S3cretPw@127.0.0.1:{dead}/?token=S3cretTok\n"
        + "    server: vllm\n"
        + "queues:\n"
        + f"  - name: rabbit\n    backend: rabbitmq\n    url: http://guest:S3cretRabbit@127.0.0.1:{dead}\n"
        + "    queues: [{name: jobs}]\n"
        + f"  - name: nats\n    backend: nats\n    url: http://n:S3cretNats@127.0.0.1:{dead}/?password=S3cretQ\n"
    )
    with run_exporter(cfg, tmp_path) as exp:
        text = exp.metrics()
        wait_for(lambda: exp.logs().count("is down") >= 3, 20, what="three targets logged down")
        logs = exp.logs()
        assert "S3cret" not in logs, [line for line in logs.splitlines() if "S3cret" in line]
        assert "S3cret" not in text
        assert 'llm_target_up{target="vllm-a"} 0.0' in text
        assert "alice:xxxxx@" in logs or "token=xxxxx" in logs or f"127.0.0.1:{dead}" in logs


def test_both_log_formats_redact_urls_exceptions_and_registered_secrets() -> None:
    import json
    import logging

    from llm_exporter.logsetup import JsonFormatter, LogfmtFormatter

    set_secrets(["S3cretBearer"])
    try:
        raise ValueError("refused: http://u:S3cretPw@h:1/?api_key=S3cretKey sent S3cretBearer")
    except ValueError:
        import sys as _sys

        record = logging.LogRecord(
            "llm_exporter.x", logging.ERROR, __file__, 1, "GET %s", ("http://a:S3cretArg@h/",), _sys.exc_info()
        )
    for formatter in (LogfmtFormatter(), JsonFormatter()):
        line = formatter.format(record)
        assert "S3cret" not in line, line
        assert "a:xxxxx@h" in line and "api_key=xxxxx" in line
    assert json.loads(JsonFormatter().format(record))["msg"] == "GET http://a:xxxxx@h/"
