"""Start the exporter the way ``llm-exporter serve`` does, then print which modules it loaded.

Usage: ``python startup_modules.py [CONFIG_FILE]`` (no file: the embedded default). Imports
the command line, loads the config, builds the runtime and the HTTP server on a free loopback
port, waits for the first collection (readiness) and renders one ``/metrics`` body, then
prints one JSON object: ``modules`` (``sys.modules`` names), ``nvml_error`` (why
libnvidia-ml.so.1 cannot be loaded in this process, or null), ``targets`` (the
``llm_target_up`` targets found) and ``gpu_series`` (how many ``llm_gpu_*`` series it read).
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from llm_exporter import cli  # noqa: F401  (the entry point's own imports)
    from llm_exporter.config import load_config
    from llm_exporter.listen import parse_listen_address
    from llm_exporter.runtime import Runtime
    from llm_exporter.server import ExporterHTTPServer

    path = sys.argv[1] if len(sys.argv) > 1 else None
    runtime = Runtime(path, load_config(path))
    server = ExporterHTTPServer(parse_listen_address("127.0.0.1:0"), runtime)
    try:
        runtime.start_warmup().join(60)
        runtime.exposition(10.0)
        metrics = runtime.last_metrics
        assert metrics is not None
        targets = sorted(dict(k)["target"] for k in metrics.series("llm_target_up"))
        gpu_series = sum(len(metrics.series(n)) for n in metrics.names() if n.startswith("llm_gpu_"))
    finally:
        server.server_close()
        runtime.close()
    modules = sorted(sys.modules)
    out = {"modules": modules, "nvml_error": nvml_error(), "targets": targets, "gpu_series": gpu_series}
    print(json.dumps(out))


def nvml_error() -> str | None:
    """Why libnvidia-ml.so.1 cannot be loaded here (as pynvml loads it), or None."""
    import ctypes

    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError as exc:
        return str(exc)
    return None


if __name__ == "__main__":
    main()
