"""Fuzz target for the config loader (issue 10): hypothesis, a bounded number of examples.

Whatever the text, ``load_config_text`` returns a ``Config`` or raises ``ConfigError`` whose
errors are single lines naming a key path; never another exception (a traceback). An
environment variable's value reaches a string field verbatim, and the value of a secret
never shows in an error, even when the same variable also feeds a typed field.
"""

from __future__ import annotations

import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llm_exporter.config import Config, ConfigError, load_config_text

FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = ["inference", "queues", "gpu", "scrape", "pricing", "discovery", "name", "url", "server", "timeout",
        "bearer_token", "bearer_token_file", "password", "max_samples", "enabled", "devices", "models",
        "timeout_offset", "backend", "probe", "api_key", "kind", "queues", "min_interval", "model"]  # fmt: skip
TOKENS = [*KEYS, ":", ": ", "- ", "\n", "  ", "[", "]", "{", "}", ",", "&a ", "*a", "!tag ", "!!int ", "'", '"',
          "|", ">", "#", "~", "null", "true", "yes", "0777", "1:30", "2001-13-45", ".inf", "-1", "1e999",
          "${T}", "${U:-d}", "${", "http://u:p@h:1", "redis://h:x", "%YAML 1.1\n", "---\n", "\t", "\x00", "é"]  # fmt: skip


def check_outcome(text: str, env: dict[str, str]) -> list[str]:
    try:
        cfg = load_config_text(text, env=env)
    except ConfigError as exc:
        assert exc.errors, "a ConfigError always says why"
        for e in exc.errors:
            assert "\n" not in e and ": " in e, e
        return exc.errors
    assert isinstance(cfg, Config)
    return []


@FUZZ
@given(st.lists(st.sampled_from(TOKENS) | st.text(max_size=8), max_size=60), st.text(max_size=20))
def test_any_text_is_a_config_or_a_config_error(parts: list[str], env_value: str) -> None:
    check_outcome("".join(parts), {"T": env_value})


SCALARS = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
    st.sampled_from(["0777", "yes", "1:30", "~", "15s", "2m", "http://h:1", "${T}", "*a", "!x"]),
)
FIELDS = st.sampled_from(["name", "url", "server", "model", "timeout", "max_samples", "bearer_token", "metrics_path"])
TARGET = st.dictionaries(FIELDS, SCALARS | st.lists(SCALARS, max_size=2), max_size=8)


@FUZZ
@given(st.lists(TARGET, max_size=3), st.dictionaries(st.sampled_from(["timeout", "timeout_offset"]), SCALARS))
def test_structured_configs_never_crash(targets: list[dict[str, object]], scrape: dict[str, object]) -> None:
    text = yaml.safe_dump({"gpu": {"enabled": False}, "inference": targets, "scrape": scrape}, allow_unicode=True)
    check_outcome(text, {"T": "0777"})


SECRET = st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + " ", min_size=3, max_size=16)


@FUZZ
@given(SECRET)
def test_env_value_reaches_a_string_field_verbatim(value: str) -> None:
    cfg = load_config_text("inference:\n  - name: a\n    url: http://h:1\n    bearer_token: ${T}\n", env={"T": value})
    assert cfg.inference[0].bearer_token == value


@FUZZ
@given(SECRET.map(lambda s: "Zq" + s))
def test_secret_value_never_shows_in_errors(secret: str) -> None:
    text = (
        "inference:\n  - name: a\n    url: http://h:1\n    bearer_token: ${T}\n    timeout: ${T}\n"
        "    max_samples: ${T}\n  - name: b\n    url: http://u:${T}@h:x/\n"
    )
    errors = check_outcome(text, {"T": secret})
    assert errors, "the typed fields cannot take the secret"
    assert all(secret not in e for e in errors), errors
