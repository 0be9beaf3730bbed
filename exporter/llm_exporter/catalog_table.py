"""The README's metric tables, generated from the catalog.

``python -m llm_exporter.catalog_table README.md`` rewrites the block between the
``<!-- metrics:begin -->`` and ``<!-- metrics:end -->`` markers; ``--check`` exits 1 when the
committed README differs from what this would write (``scripts/generate.py --check`` runs it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from .catalog import CATALOG, GROUPS, Catalog

BEGIN = "<!-- metrics:begin (generated from exporter/llm_exporter/catalog/; do not edit) -->"
END = "<!-- metrics:end -->"

TITLES = {
    "exporter": "Exporter",
    "target": "Upstream targets",
    "inference": "Inference (every engine)",
    "probe": "Active probe",
    "process": "Served process",
    "gpu": "GPU (NVML)",
    "queue": "Agent queues",
    "agent": "LLM usage per agent (LiteLLM)",
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
    """``catalog_table [--check] [README.md]``: rewrite the table, or exit 1 when it is stale."""
    args = argv[1:]
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    path = Path(paths[0] if paths else "README.md")
    current = path.read_text(encoding="utf-8")
    fresh = render(current)
    if check:
        if fresh != current:
            print(f"stale: {path} (run: python -m llm_exporter.catalog_table {path})", file=sys.stderr)
            return 1
        return 0
    path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
