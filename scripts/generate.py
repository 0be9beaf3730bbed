#!/usr/bin/env python3
"""Regenerate every generated file, in dependency order; ``--check`` writes nothing and fails when stale.

1. the README metric tables, from ``exporter/llm_exporter/catalog/``, and the README / docs
   engine sections (support matrix, default ports, ``server:`` values) from the engine tables;
2. ``alerts/`` and ``dashboards/``, from the catalog and ``monitoring/bundle.yml``;
3. ``deploy/kubernetes/generated/``, which wraps ``alerts/`` and ``dashboards/``.

    python scripts/generate.py           # rewrite everything
    python scripts/generate.py --check   # exit 1 and name the stale files (the freshness test runs this)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

GENERATORS = (
    ("README metric tables", ["-m", "llm_exporter.catalog_table", "README.md"]),
    ("README / docs engine sections", ["-m", "llm_exporter.engine_docs", "README.md", "docs/inference.md"]),
    ("monitoring bundle", ["-m", "monitoring.generate"]),
    ("Kubernetes wrappers", ["deploy/kubernetes/generate.py"]),
)


def run(check: bool) -> list[str]:
    """Run each generator (``--check`` passed on); the names of those that failed."""
    failed = []
    for name, args in GENERATORS:
        cmd = [sys.executable, *args, *(["--check"] if check else [])]
        if subprocess.run(cmd, cwd=REPO).returncode != 0:
            failed.append(name)
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 when a generated file is stale")
    failed = run(ap.parse_args(argv).check)
    for name in failed:
        print(f"{name}: stale or failed (run: python scripts/generate.py)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
