"""The README / docs engine sections, generated from the engine tables (one source of truth).

    python -m llm_exporter.engine_docs [--check] README.md docs/inference.md

rewrites, in each file:

- the block between ``<!-- engines:matrix:begin ... -->`` and ``<!-- engines:matrix:end -->``:
  the engine x metric support matrix (a cell is the table's note for the metric, else ✓ when a
  rule maps it, else ✗), with a first row saying how the suite checks each table;
- the text between ``<!-- engines:ports -->`` and ``<!-- /engines:ports -->``: the default
  ports discovery tries, in table order;
- the comment of every ``server: <kind>  # ...`` config line: the ``server:`` values.

``--check`` writes nothing and exits 1 when a file is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .catalog import CATALOG
from .collectors.inference.engines import SERVER_KINDS, TABLES
from .collectors.inference.mapping import Engine

MATRIX_BEGIN = "<!-- engines:matrix:begin (generated from the engine tables; do not edit) -->"
MATRIX_END = "<!-- engines:matrix:end -->"
PORTS_BEGIN = "<!-- engines:ports -->"
PORTS_END = "<!-- /engines:ports -->"
SERVER_LINE = re.compile(r"^(\s*server: \w+\s+# ).*$", re.M)
ALWAYS = ("llm_model_info",)  # emitted for every target, whatever the engine


def cell(engine: Engine, metric: str) -> str:
    note = engine.notes.get(metric)
    if note:
        return note
    return "✓" if metric in engine.metrics or metric in ALWAYS else "✗"


def matrix() -> str:
    """The support matrix as a Markdown table."""
    covered = {m for e in TABLES for m in (*e.metrics, *e.notes)} | set(ALWAYS)
    rows = [s.name for s in CATALOG if s.name in covered]
    lines = [
        "| metric | " + " | ".join(e.title for e in TABLES) + " |",
        "|---|" + "---|" * len(TABLES),
        "| *checked against* | " + " | ".join(e.proof for e in TABLES) + " |",
    ]
    lines += [f"| `{m}` | " + " | ".join(cell(e, m) for e in TABLES) + " |" for m in rows]
    return "\n".join(lines) + "\n"


def ports() -> str:
    """``vLLM 8000, ...``: the default ports discovery tries, in table order."""
    seen: dict[int, list[str]] = {}
    for e in TABLES:
        if e.default_port:
            seen.setdefault(e.default_port, []).append(e.title)
    return ", ".join(f"{' / '.join(titles)} {port}" for port, titles in seen.items())


def server_values() -> str:
    return " | ".join(SERVER_KINDS)


def _between(text: str, begin: str, end: str, body: str) -> str:
    head, sep, rest = text.partition(begin)
    if not sep:
        return text
    _, sep2, tail = rest.partition(end)
    if not sep2:
        raise ValueError(f"{begin} without {end}")
    return f"{head}{begin}{body}{end}{tail}"


def render(text: str) -> str:
    """``text`` with every generated engine section replaced."""
    text = _between(text, MATRIX_BEGIN, MATRIX_END, "\n" + matrix())
    text = _between(text, PORTS_BEGIN, PORTS_END, ports())
    return SERVER_LINE.sub(lambda m: m.group(1) + server_values(), text)


def main(argv: list[str]) -> int:
    args = argv[1:]
    check = "--check" in args
    paths = [Path(a) for a in args if a != "--check"] or [Path("README.md"), Path("docs/inference.md")]
    stale = []
    for path in paths:
        current = path.read_text(encoding="utf-8")
        fresh = render(current)
        if fresh == current:
            continue
        if check:
            stale.append(path)
        else:
            path.write_text(fresh, encoding="utf-8")
    for path in stale:
        print(f"stale: {path} (run: python -m llm_exporter.engine_docs)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
