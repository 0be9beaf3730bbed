"""The catalog follows the Prometheus naming rules and the README table is generated from it."""

from __future__ import annotations

import re

import pytest
from llm_exporter.catalog import CATALOG, GROUPS

UNITS = (
    "seconds",
    "bytes",
    "joules",
    "hertz",
    "celsius",
    "ratio",
    "watts",
    "dollars",
    "tokens",
    "messages",
    # NVML samples PCIe throughput over 20 ms and offers no byte counter, so a rate is all there is.
    "bytes_per_second",
)
FORBIDDEN_LABELS = {
    "type",
    "le",
    "quantile",
    "instance",
    "job",
    "cluster",
    "namespace",
    "hostname",
    "env",
    "region",
    "service",
}


@pytest.mark.parametrize("spec", list(CATALOG), ids=lambda s: s.name)
def test_name_follows_prometheus_rules(spec) -> None:  # type: ignore[no-untyped-def]
    assert re.fullmatch(r"llm_[a-z0-9_]+", spec.name), "llm_ prefix, snake_case, no colons"
    assert spec.group in GROUPS
    assert spec.help and not spec.help[0].islower() and spec.help.endswith((".", ")"))
    if spec.type == "counter":
        assert spec.name.endswith("_total")
    else:
        assert not spec.name.endswith(("_total", "_count", "_sum", "_bucket"))
    if spec.unit:
        stem = spec.name.removesuffix("_total")
        assert stem.endswith("_" + spec.unit), f"unit {spec.unit} must be the name's suffix"
    assert not set(spec.labels) & FORBIDDEN_LABELS
    assert len(set(spec.labels)) == len(spec.labels)
    if spec.extra_labels:
        assert spec.is_info, "only _info metrics may carry open-ended identity labels"
    if spec.is_info:
        assert spec.type == "gauge"


def test_units_are_base_units() -> None:
    for spec in CATALOG:
        for bad in ("_ms", "_milliseconds", "_mib", "_megabytes", "_percent", "_mhz", "_mj", "_microseconds"):
            assert bad not in spec.name, spec.name
        if spec.unit:
            assert spec.unit in UNITS, (spec.name, spec.unit)
