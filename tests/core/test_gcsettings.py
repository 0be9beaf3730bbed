"""The serving process's garbage-collector settings (gcsettings)."""

from __future__ import annotations

import json
import subprocess
import sys

from llm_exporter import gcsettings


def test_tune_raises_the_first_threshold_and_freezes_the_heap_alive_then() -> None:
    code = (
        "import gc, json; from llm_exporter import gcsettings; before = gc.get_freeze_count(); "
        "gcsettings.tune(); print(json.dumps([gc.get_threshold(), before, gc.get_freeze_count()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    threshold, before, after = json.loads(out)
    assert tuple(threshold) == gcsettings.THRESHOLDS and threshold[0] > 700  # CPython's default is 700
    assert before == 0 and after > 1_000  # the imported modules' objects, at least
