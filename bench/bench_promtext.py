"""Benchmark: llm-exporter's upstream parser + normaliser vs prometheus_client's text parser alone.

Builds a vLLM V1 /metrics body of about 10,000 samples (8 models x 4 data-parallel engine
cores, every histogram family, single-process rendering with ``_created`` series), then
times, in one run on the same bytes:

- ours:   ``promtext.Parser`` (streamed in 64 KiB chunks) + ``mapping.normalise`` into a MetricSet
- client: ``prometheus_client.parser.text_string_to_metric_families`` (parse only, no normalising)

and prints microseconds per sample, the speed ratio (target >= 5x) and the peak memory of
one scrape (tracemalloc, measured in separate runs so it does not distort the timings).

Then the body's shape: CPU seconds per MiB to reject a body without any newline (one huge
line, the case that was quadratic) and to read a normal body, at 1, 4 and 16 MiB; linear
parsing keeps the per-MiB figure flat as the size grows (the ratio 16 MiB / 1 MiB is printed).

    python bench/bench_promtext.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

from llm_exporter.collectors.inference.mapping import normalise
from llm_exporter.collectors.inference.vllm import VLLM
from llm_exporter.counters import CounterFolder
from llm_exporter.metricset import MetricSet
from llm_exporter.promtext import MAX_HELD, ParseCache, Parser, PromTextError
from payloads import HISTOGRAMS, vllm_body
from prometheus_client.parser import text_string_to_metric_families


def ours(body: bytes, folder: CounterFolder, cache: ParseCache | None = None, held: bool = True) -> MetricSet:
    """One scrape's parse + normalise; ``cache`` is the target's parse cache (label blocks and
    the body's template, as the collector keeps it from one scrape to the next), None for a
    first scrape; ``held=False`` streams the body through the careful parser (no template)."""
    parser = Parser(
        VLLM.scalar_names(),
        VLLM.histogram_names(),
        max_samples=1_000_000,
        cache=cache,
        max_held=MAX_HELD if held else 0,
    )
    view = memoryview(body)
    for i in range(0, len(view), 65536):
        parser.feed(view[i : i + 65536])
    out = MetricSet()
    normalise(VLLM, parser.close(), out, "bench", "unknown", folder)
    return out


def client(body: bytes) -> int:
    return sum(len(f.samples) for f in text_string_to_metric_families(body.decode("utf-8")))


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    # Every scrape reads the next step of load (same lines, new values), as from a busy server.
    bodies = iter([vllm_body(step=k) for k in range(3 * args.repeat + 4)])
    body = next(bodies)
    samples = client(body)
    folder, cache, streamed = CounterFolder(), ParseCache(), ParseCache()
    for _ in range(2):  # warm-up: the target's cache learns the body's shape
        step = next(bodies)
        ours(step, folder, cache)
        ours(step, CounterFolder(), streamed, held=False)
    t_ours = timed(lambda: ours(next(bodies), folder, cache), args.repeat)
    t_streamed = timed(lambda: ours(next(bodies), folder, streamed, held=False), args.repeat)
    t_cold = timed(lambda: ours(body, CounterFolder()), args.repeat)
    t_client = timed(lambda: client(body), args.repeat)
    m_ours = peak(lambda: ours(next(bodies), folder, cache))
    m_client = peak(lambda: client(body))
    print(
        f"vLLM payload: {samples} samples, {len(body) / 1024:.0f} KiB, 8 models x 4 engines, "
        f"{len(HISTOGRAMS)} histogram families; median of {args.repeat} runs"
    )
    print(f"{'':44} {'ms/scrape':>10} {'us/sample':>10} {'peak MiB':>9}")
    print(
        f"{'llm-exporter promtext parse + normalise':44} {t_ours * 1e3:10.2f} {t_ours / samples * 1e6:10.3f} "
        f"{m_ours / 2**20:9.2f}"
    )
    print(f"{'  the same, careful parser (streamed)':44} {t_streamed * 1e3:10.2f} {t_streamed / samples * 1e6:10.3f}")
    print(f"{'  the same, first scrape (no cache)':44} {t_cold * 1e3:10.2f} {t_cold / samples * 1e6:10.3f}")
    print(
        f"{'prometheus_client text parser alone':44} {t_client * 1e3:10.2f} {t_client / samples * 1e6:10.3f} "
        f"{m_client / 2**20:9.2f}"
    )
    ratio = t_client / t_ours
    print(
        f"speed-up: {ratio:.1f}x, first scrape {t_client / t_cold:.1f}x (target >= 5x) "
        f"{'OK' if ratio >= 5 else 'BELOW TARGET'}"
    )

    shapes()


def _feed(body: bytes) -> None:
    parser = Parser(VLLM.scalar_names(), VLLM.histogram_names(), max_samples=10**8, max_bytes=2**31, max_line=2**31)
    view = memoryview(body)
    try:
        for i in range(0, len(view), 65536):
            parser.feed(view[i : i + 65536])
        parser.close()
    except PromTextError:
        pass


def shapes() -> None:
    """CPU per MiB by body size for a body without newlines and a normal one (linear = flat)."""
    normal_unit = vllm_body()
    print(f"\n{'body shape (line limit lifted)':32} {'1 MiB':>9} {'4 MiB':>9} {'16 MiB':>9} {'16/1':>6}  (CPU s/MiB)")
    for label, make in (
        ("no newline at all", lambda n: b"0" * n),
        ("normal vLLM text", lambda n: (normal_unit * (n // len(normal_unit) + 1))[:n]),
    ):
        per_mib = []
        for mib in (1, 4, 16):
            body = make(mib << 20)
            t0 = time.process_time()
            _feed(body)
            per_mib.append((time.process_time() - t0) / mib)
        ratio = per_mib[2] / per_mib[0] if per_mib[0] else float("nan")
        print(f"{label:32} {per_mib[0]:9.4f} {per_mib[1]:9.4f} {per_mib[2]:9.4f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
