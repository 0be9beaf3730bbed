"""The README's metric tables, generated from the catalog.

``python -m llm_exporter.catalog_table README.md`` rewrites the block between the
``<!-- metrics:begin -->`` and ``<!-- metrics:end -->`` markers; a test fails when the
committed README differs from what this would write.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .catalog import CATALOG, GROUPS, Catalog

BEGIN = "<!-- metrics:begin (generated from exporter/llm_exporter/catalog.py; do not edit) -->"
END = "<!-- metrics:end -->"

TITLES = {
    "exporter": "Exporter",
    "target": "Upstream targets",
    "inference": "Inference (every engine)",
    "probe": "Active probe",
    "process": "Served process",
    "gpu": "GPU (NVML)",
    "queue": "Agent queues",
    "cost": "Cost",
}


def markdown(catalog: Catalog = CATALOG) -> str:
    """One table per group: name, type, labels, help."""
    parts: list[str] = []
    groups = list(GROUPS) + sorted({s.group for s in catalog} - set(GROUPS))
    for group in groups:
        specs = catalog.group(group)
        if not specs:
            continue
        parts.append(f"#### {TITLES.get(group, group.title())}\n")
        parts.append("| metric | type | labels | meaning |")
        parts.append("|---|---|---|---|")
        for s in specs:
            labels = ", ".join(f"`{label}`" for label in s.labels) + (", ..." if s.extra_labels else "")
            note = " *(opt-in)*" if s.opt_in else ""
            helptext = s.help.replace("|", "\\|")
            parts.append(f"| `{s.name}` | {s.type} | {labels} | {helptext}{note} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def render(readme: str, catalog: Catalog = CATALOG) -> str:
    """``readme`` with the generated block replaced."""
    head, sep, rest = readme.partition(BEGIN)
    if not sep:
        raise ValueError("README has no metrics:begin marker")
    _, sep2, tail = rest.partition(END)
    if not sep2:
        raise ValueError("README has no metrics:end marker")
    return f"{head}{BEGIN}\n{markdown(catalog)}{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "README.md")
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
