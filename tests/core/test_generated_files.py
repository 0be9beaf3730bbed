"""Every generated file is fresh: the one command ``scripts/generate.py --check`` says so.

It runs the three generators in check mode (README metric tables, ``monitoring.generate``,
``deploy/kubernetes/generate.py``); fix a failure with ``python scripts/generate.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from llm_exporter import catalog_table

REPO = Path(__file__).resolve().parents[2]


def test_every_generated_file_is_fresh() -> None:
    res = subprocess.run(
        [sys.executable, "scripts/generate.py", "--check"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, f"stale generated files, run `python scripts/generate.py`:\n{res.stderr}"


def test_catalog_table_check_names_a_stale_readme_and_leaves_it(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    fresh = catalog_table.render((REPO / "README.md").read_text(encoding="utf-8"))
    stale = fresh.replace("| `llm_target_up` |", "| `llm_target_upp` |")
    assert stale != fresh
    readme.write_text(stale, encoding="utf-8")
    assert catalog_table.main(["catalog_table", "--check", str(readme)]) == 1
    assert readme.read_text(encoding="utf-8") == stale
    assert catalog_table.main(["catalog_table", str(readme)]) == 0
    assert catalog_table.main(["catalog_table", "--check", str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == fresh
