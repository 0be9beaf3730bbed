"""Run one gpu collection in a fresh process and print the exposition (for LD_LIBRARY_PATH tests).

Usage: python collect_once.py '<GpuConfig fields as JSON>'. Prints the text exposition,
then a line "# error: <message>" if the collection failed.
"""

from __future__ import annotations

import json
import sys

from llm_exporter.collectors.gpu import GpuCollector
from llm_exporter.config import GpuConfig
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import CollectorFailed, Deadline
from prometheus_client import generate_latest


def main() -> None:
    cfg = GpuConfig(**json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}"))
    c = GpuCollector(cfg, xid_wait_ms=50)
    out = MetricSet()
    error = ""
    try:
        c.collect(out, Deadline(20))
    except CollectorFailed as exc:
        error = str(exc)
    sys.stdout.write(generate_latest(out).decode())
    if error:
        print(f"# error: {error}")
    c.close(join=2)


if __name__ == "__main__":
    main()
