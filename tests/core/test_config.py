"""Strict config: every error names key path and line; env expansion; *_file secrets; CLI codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from llm_exporter.config import ConfigError, default_config, default_config_text, load_config, load_config_text


def errors_of(text: str, **kw: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, **kw)  # type: ignore[arg-type]
    return info.value.errors


def test_embedded_default_is_valid() -> None:
    cfg = load_config(None)
    assert cfg.gpu.enabled == "auto"
    assert cfg.discovery.enabled is True
    assert cfg.inference == []


def test_embedded_default_is_default_config_yml() -> None:
    """The default is built in code (no YAML parser at start): it must be what the shipped file says."""
    assert load_config_text(default_config_text()) == default_config() == load_config(None)
    assert load_config(None) is not load_config(None)  # a fresh object each time (lists inside)


def test_empty_file_is_valid() -> None:
    assert load_config_text("").inference == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "inference:\n  - name: a\n    url: http://h:1\n  - name: b\n    url: localhost\n",
            "inference[1].url: not a URL: 'localhost' (no scheme) (line 5)",
        ),
        (
            "gpu:\n  enabled: maybe\n",
            "gpu.enabled: none of the allowed forms fits (line 2): must be true or false, got 'maybe' / "
            "must be one of 'auto', got 'maybe'",
        ),
        ("gpu:\n  enabeld: true\n", "gpu.enabeld: unknown key (known: "),
        ("inference:\n  - url: http://h:1\n", "inference[0].name: required key is missing (line 2)"),
        (
            "inference:\n  - name: a\n    url: http://h:1\n    timeout: soon\n",
            "inference[0].timeout: must be a duration like 15s, 2m or 500ms, got 'soon' (line 4)",
        ),
        (
            "inference:\n  - name: a\n    url: http://h:1\n    server: vllmm\n",
            "inference[0].server: must be one of 'vllm', 'ray_vllm', 'sglang', ",
        ),
        ("scrape:\n  min_interval: -1\n", "scrape.min_interval: must be a duration like"),
        (
            "inference:\n  - name: a\n    url: http://h:1\n    max_samples: 0\n",
            "inference[0].max_samples: must be greater than 0, got 0 (line 4)",
        ),
        ("inference: {name: a}\n", "inference: must be a list (line 1)"),
        (
            "pricing:\n  models:\n    - model: m\n      prompt_per_million: cheap\n",
            "pricing.models[0].prompt_per_million: must be a number or duration, got 'cheap' (line 4)",
        ),
        (
            "queues:\n  - name: q\n    backend: kafka\n    url: redis://h:1\n",
            "queues[0].backend: must be one of 'redis', 'rabbitmq', 'nats', got 'kafka' (line 3)",
        ),
        (
            "inference:\n  - name: a\n    url: http://h:1\nqueues:\n  - name: a\n    backend: redis\n"
            "    url: redis://h:1\n",
            "queues[0].name: duplicate target name 'a' (also inference[0]) (line 5)",
        ),
        ("gpu: [1\n", "<root>: invalid YAML: "),
        ("gpu:\n  enabled: true\ngpu:\n  enabled: false\n", "gpu: duplicate key (line 3)"),
    ],
)
def test_errors_name_key_and_line(text: str, expected: str) -> None:
    errors = errors_of(text)
    assert any(e.startswith(expected) for e in errors), errors


def test_all_errors_reported_together() -> None:
    errors = errors_of("gpu:\n  enabled: 3\n  bogus: 1\nscrape:\n  timeout: never\n")
    assert len(errors) == 3, errors


def test_env_expansion_and_defaults() -> None:
    text = "inference:\n  - name: ${NAME}\n    url: http://${HOST:-127.0.0.1}:${PORT}\n    max_samples: ${N}\n"
    cfg = load_config_text(text, env={"NAME": "vllm", "PORT": "8000", "N": "42"})
    assert cfg.inference[0].name == "vllm"
    assert cfg.inference[0].url == "http://127.0.0.1:8000"
    assert cfg.inference[0].max_samples == 42
    assert errors_of(text, env={"NAME": "x", "N": "1"}) == [
        "inference[0].url: environment variable PORT is not set (line 3)"
    ]


def test_secret_from_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    text = "queues:\n  - name: q\n    backend: redis\n    url: redis://h:1\n    password_file: pw\n"
    cfg = load_config_text(text, base_dir=tmp_path)
    assert cfg.queues[0].password == "s3cret"
    both = text + "    password: other\n"
    assert any("give either password or password_file" in e for e in errors_of(both, base_dir=tmp_path))
    missing = text.replace("pw\n", "nope\n")
    assert errors_of(missing, base_dir=tmp_path) == [
        "queues[0].password_file: cannot read secret file: No such file or directory (line 5)"
    ]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm_exporter", *args], capture_output=True, text=True, timeout=60)


def test_check_config_cli(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text("gpu:\n  enabled: false\n")
    res = run_cli("check-config", f"--config.file={good}")
    assert res.returncode == 0, res.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text("gpu:\n  enabled: false\ninference:\n  - name: a\n    url: nope\n")
    res = run_cli("check-config", f"--config.file={bad}")
    assert res.returncode == 2
    assert "inference[0].url: not a URL: 'nope' (no scheme) (line 5)" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, "one-line reason"
    res = run_cli("check-config", f"--config.file={tmp_path / 'absent.yml'}")
    assert res.returncode == 2 and "cannot read config file" in res.stderr


def test_serve_refuses_invalid_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("scrape:\n  timeout: 0\n")
    res = run_cli(f"--config.file={bad}", "--web.listen-address=127.0.0.1:0")
    assert res.returncode == 2
    assert "scrape.timeout: must be greater than 0" in res.stderr


def test_duplicate_queue_means_same_name_kind_and_group() -> None:
    base = "queues:\n  - name: r\n    backend: redis\n    url: redis://h:1\n    queues:\n"
    ok = base + "      - {name: jobs, kind: celery}\n      - {name: jobs, kind: rq}\n"
    assert len(load_config_text(ok).queues[0].queues) == 2
    dup = base + "      - {name: jobs, kind: celery}\n      - {name: jobs, kind: celery}\n"
    assert any(e.startswith("queues[0].queues[1].name: duplicate queue 'jobs'") for e in errors_of(dup))
