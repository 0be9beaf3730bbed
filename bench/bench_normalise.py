"""Benchmark: CPU of the normalise and render stages of one scrape of a vLLM target.

Builds a vLLM V1 ``/metrics`` body (``payloads.vllm_body``, 8 models x 4 engines by default:
11,616 samples), then for each iteration parses it (not timed, with the target's label cache,
as in the steady state of a running exporter), makes every counter and histogram grow (a busy
server: each scrape sees new values; ``--static`` keeps them, like an idle server or
``bench_scrape.py``'s fixed bodies) and times with ``time.process_time``:

- normalise: ``mapping.normalise`` of the snapshot into a fresh ``MetricSet`` (the same
  ``CounterFolder`` throughout, as the collector keeps it);
- render: ``exposition.render`` of that set;
- baseline: ``prometheus_client.generate_latest`` of the same set (``MetricSet.collect``),
  the plain client library writing the same series.

It prints milliseconds per scrape and microseconds per upstream sample (medians). With
``--against REV`` the same measurement runs, interleaved in alternating child processes,
on the ``exporter/`` tree of git revision ``REV`` (``git archive``) and on this tree, and the
ratio new / old is printed; the rendered bytes of both must be identical (checked, with
``PYTHONHASHSEED=0`` in both children so that set order is the same).

    python bench/bench_normalise.py [--iterations 40] [--against main] [--rounds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def measure(iterations: int, models: int, engines: int, static: bool) -> dict[str, float | str | int]:
    """Median CPU seconds of normalise, render and the prometheus_client baseline, per scrape."""
    from llm_exporter.collectors.inference.mapping import normalise
    from llm_exporter.collectors.inference.vllm import VLLM
    from llm_exporter.counters import CounterFolder
    from llm_exporter.exposition import render
    from llm_exporter.metricset import MetricSet
    from llm_exporter.promtext import ParseCache, Parser
    from payloads import vllm_body
    from prometheus_client.exposition import generate_latest

    body = vllm_body(models, engines)
    folder = CounterFolder()
    cache = ParseCache()

    def snapshot():  # type: ignore[no-untyped-def]
        parser = Parser(VLLM.scalar_names(), VLLM.histogram_names(), max_samples=10**7, cache=cache)
        view = memoryview(body)
        for i in range(0, len(view), 65536):
            parser.feed(view[i : i + 65536])
        return parser.close()

    def grow(snap, k: int) -> None:  # type: ignore[no-untyped-def]
        """Counters + k, each histogram bucket + k x its rank (still cumulative), sums + k / 2."""
        for name, series in snap.scalars.items():
            if name.endswith("_total"):
                for labels in series:
                    series[labels] += k
        for hists in snap.histograms.values():
            for hs in hists.values():
                b = hs.buckets
                if hasattr(b, "counts"):  # a template's read (promsnap.BucketColumns): grown in place
                    order = sorted(range(len(b.bounds)), key=b.bounds.__getitem__)
                    for rank, j in enumerate(order, 1):
                        b.counts[j] += k * rank
                    hs.count = b.counts[order[-1]]
                else:
                    for rank, le in enumerate(sorted(b), 1):
                        b[le] += k * rank
                    hs.count = b[max(b)]
                hs.sum = (hs.sum or 0.0) + k / 2

    t_norm: list[float] = []
    t_render: list[float] = []
    t_client: list[float] = []
    data = b""
    samples = 0
    series = 0
    for i in range(iterations + 2):  # the first two warm the caches and the folder
        snap = snapshot()
        if not static:
            grow(snap, i)
        samples = snap.samples
        out = MetricSet()
        t0 = time.process_time()
        normalise(VLLM, snap, out, "bench", "unknown", folder)
        t1 = time.process_time()
        data = render(out)
        t2 = time.process_time()
        generate_latest(out)  # type: ignore[arg-type]
        t3 = time.process_time()
        series = sum(1 for ln in data.splitlines() if not ln.startswith(b"#"))
        if i >= 2:
            t_norm.append(t1 - t0)
            t_render.append(t2 - t1)
            t_client.append(t3 - t2)
    return {
        "normalise": statistics.median(t_norm),
        "render": statistics.median(t_render),
        "client": statistics.median(t_client),
        "samples": samples,
        "series": series,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def child(src: Path, args: argparse.Namespace) -> dict[str, float | str | int]:
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=os.pathsep.join([str(src), str(HERE)]))
    cmd = [sys.executable, __file__, "--child", "--iterations", str(args.iterations)]
    cmd += ["--models", str(args.models), "--engines", str(args.engines)] + (["--static"] if args.static else [])
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    result: dict[str, float | str | int] = json.loads(done.stdout)
    return result


def extract(rev: str, into: Path) -> Path:
    """The ``exporter/`` tree of ``rev`` under ``into``."""
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "exporter"], check=True, capture_output=True)
    with tarfile.open(fileobj=BytesIO(tar.stdout)) as tf:
        tf.extractall(into, filter="data")
    return into / "exporter"


def line(label: str, r: dict[str, float | str | int], key: str) -> str:
    t = float(r[key])
    return f"{label:<52}{t * 1e3:>10.2f}{t / int(r['samples']) * 1e6:>11.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--models", type=int, default=8)
    ap.add_argument("--engines", type=int, default=4)
    ap.add_argument("--static", action="store_true", help="the same values every scrape (an idle server)")
    ap.add_argument("--against", metavar="REV", help="git revision to compare with (interleaved child processes)")
    ap.add_argument("--rounds", type=int, default=5, help="alternations of old and new with --against")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.iterations, args.models, args.engines, args.static)))
        return
    new_src = ROOT / "exporter"
    kind = ", values unchanged between scrapes" if args.static else ", values growing every scrape"
    if not args.against:
        r = child(new_src, args)
        print(f"vLLM body: {r['samples']} samples, {r['series']} series out; median of {args.iterations} scrapes{kind}")
        print(f"{'':<52}{'ms/scrape':>10}{'us/sample':>11}")
        print(line("normalise (mapping.normalise)", r, "normalise"))
        print(line("render (exposition.render)", r, "render"))
        print(line("baseline: prometheus_client generate_latest", r, "client"))
        print(f"render vs generate_latest: {float(r['client']) / float(r['render']):.1f}x faster")
        return
    with tempfile.TemporaryDirectory() as tmp:
        old_src = extract(args.against, Path(tmp))
        runs: dict[str, list[dict[str, float | str | int]]] = {"old": [], "new": []}
        for _ in range(args.rounds):
            runs["old"].append(child(old_src, args))
            runs["new"].append(child(new_src, args))
    # Per side and stage: the median over rounds, and the best round (the least disturbed by
    # other processes on a shared machine; the fairer figure when the machine is noisy).
    med, best = (
        {
            side: {k: agg(float(r[k]) for r in rs) for k in ("normalise", "render", "client")}
            | {"samples": rs[0]["samples"], "series": rs[0]["series"]}
            for side, rs in runs.items()
        }
        for agg in (statistics.median, min)
    )
    same = {r["sha256"] for rs in runs.values() for r in rs}
    print(
        f"vLLM body: {med['new']['samples']} samples, {med['new']['series']} series out; "
        f"{args.rounds} interleaved rounds x {args.iterations} scrapes{kind}; old = {args.against}"
    )
    for title, figures in (("median of the rounds", med), ("best round", best)):
        print(f"{title:<52}{'ms/scrape':>10}{'us/sample':>11}")
        for stage in ("normalise", "render", "client"):
            for side in ("old", "new"):
                print(line(f"  {stage} ({side})", figures[side], stage))
        ratios = [f"{stage} {figures['new'][stage] / figures['old'][stage]:.2f}" for stage in ("normalise", "render")]
        both = [figures[side]["normalise"] + figures[side]["render"] for side in ("old", "new")]
        print(f"  new / old: {', '.join(ratios)}, normalise + render {both[1] / both[0]:.2f}")
    print("rendered bytes: " + ("identical" if len(same) == 1 else f"DIFFERENT ({len(same)} digests)"))
    if len(same) != 1:
        sys.exit(1)


if __name__ == "__main__":
    main()
