"""A real Triton Inference Server (bundled by PyTriton) serving one Python function.

Run with the Triton environment's python: ``python pytriton_server.py HTTP GRPC METRICS``.
Model ``sleepy`` takes ``x`` (float32, one value): it sleeps ``x`` seconds (capped at 5) and
returns ``2x``; a negative ``x`` raises, which Triton counts as a failed request. No batching
and one instance, so concurrent requests queue (``nv_inference_pending_request_count``).
Stops on SIGTERM.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from pytriton.model_config import ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig


def infer(requests: list) -> list[dict]:
    out = []
    for req in requests:
        x = np.asarray(req["x"], dtype=np.float32)
        value = float(x.reshape(-1)[0])
        if value < 0:
            raise ValueError("negative input: this request fails on purpose")
        time.sleep(min(value, 5.0))
        out.append({"y": x * 2})
    return out


def main(http: int, grpc: int, metrics: int) -> None:
    config = TritonConfig(
        http_address="127.0.0.1",
        http_port=http,
        grpc_address="127.0.0.1",
        grpc_port=grpc,
        metrics_port=metrics,
        allow_metrics=True,
        allow_gpu_metrics=False,
        allow_cpu_metrics=False,
        metrics_interval_ms=200,
    )
    with Triton(config=config) as triton:
        triton.bind(
            model_name="sleepy",
            infer_func=infer,
            inputs=[Tensor(name="x", dtype=np.float32, shape=(1,))],
            outputs=[Tensor(name="y", dtype=np.float32, shape=(1,))],
            config=ModelConfig(batching=False),
        )
        triton.serve()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
