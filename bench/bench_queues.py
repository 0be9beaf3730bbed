"""One scrape of a Redis queue target with 200 queues: round trips and time.

Starts a private redis-server (tests/brokers.py), fills it with 200 queues of mixed kinds
(Celery queues with priority lists, RQ queues with real jobs in the queue, failed,
scheduled and deferred registries, and streams with a consumer group where some entries
are read and not acked), then scrapes it with the Redis queue collector:

- round trips: counted by a redis-py connection class that counts every write of a
  command batch to the socket (``send_packed_command``);
- commands: the delta of ``INFO commandstats`` call counts on the server;
- time: wall time of ``collect`` (median and max over the scrapes).

For comparison it runs the very same commands one by one (no pipeline), which is what
a naive exporter does. Usage::

    python bench/bench_queues.py [--queues 200] [--scrapes 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "queues")]

from brokers import redis_server  # noqa: E402
from llm_exporter.collectors.queues.redis import RedisQueueCollector  # noqa: E402
from llm_exporter.config import load_config_text  # noqa: E402
from llm_exporter.metricset import MetricSet  # noqa: E402
from llm_exporter.scrape import Deadline  # noqa: E402

COUNT = {"round_trips": 0}


class CountingConnection(redis.Connection):
    """Counts socket writes of command batches: one per round trip."""

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        COUNT["round_trips"] += 1
        super().send_packed_command(command, check_health)


def fill(url: str, n: int) -> list[str]:
    """Create n queues: a third Celery, a third RQ, a third streams. Returns the stream names."""
    import queue_jobs
    from celery import Celery
    from rq import Queue

    r = redis.Redis.from_url(url)
    n_celery, n_rq = n // 3, n // 3
    n_streams = n - n_celery - n_rq
    app = Celery("bench", broker=url)

    @app.task(name="bench.t")
    def t(x: int) -> int:
        return x

    for i in range(n_celery):
        for prio in (0, 5, 9):
            t.apply_async(args=(i,), queue=f"celery-{i:03d}", priority=prio)
    for i in range(n_rq):
        q = Queue(f"rq-{i:03d}", connection=r)
        first = q.enqueue(queue_jobs.add, i, i)
        q.enqueue(queue_jobs.add, i, 1)
        q.enqueue(queue_jobs.add, 1, 1, depends_on=first)
        q.enqueue_in(timedelta(hours=1), queue_jobs.add, 2, 2)
    streams = []
    for i in range(n_streams):
        key = f"stream-{i:03d}"
        streams.append(key)
        for j in range(5):
            r.xadd(key, {"n": str(j)})
        r.xgroup_create(key, "workers", id="0")
        r.xreadgroup("workers", "c1", {key: ">"}, count=2)
    return streams


def commandstats(r: redis.Redis) -> int:
    stats = r.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queues", type=int, default=200)
    ap.add_argument("--scrapes", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as srv:
        streams = fill(srv.url, args.queues)
        queues = "\n".join(f"      - {{name: {s}, kind: stream, group: workers}}" for s in streams)
        cfg = load_config_text(f"""
queues:
  - name: bench
    backend: redis
    url: {srv.url}
    discover: true
    max_queues: 1000
    queues:
{queues}
""").queues[0]
        collector = RedisQueueCollector(cfg, connection_class=CountingConnection)
        admin = redis.Redis.from_url(srv.url)

        def one() -> tuple[int, int, float, int]:
            COUNT["round_trips"] = 0
            before = commandstats(admin)
            out = MetricSet()
            t0 = time.perf_counter()
            collector.collect(out, Deadline(10))
            dt = time.perf_counter() - t0
            after = commandstats(admin)
            rows = len(out.series("llm_queue_info"))
            return COUNT["round_trips"], after - before - 1, dt, rows  # -1: the first INFO itself

        first = one()
        runs = [one() for _ in range(args.scrapes)]

        # The same commands without a pipeline: one round trip each.
        client = collector._client
        assert client is not None and collector._readers is not None
        pipe = client.pipeline(transaction=False)
        for reader in collector._readers:
            reader.add(pipe)
        stack = (
            [(c.args, c.options) for c in pipe.command_stack]
            if hasattr(pipe.command_stack[0], "args")
            else [(c[0], c[1]) for c in pipe.command_stack]
        )
        naive_times, naive_trips = [], 0
        for _ in range(max(3, args.scrapes // 4)):
            COUNT["round_trips"] = 0
            t0 = time.perf_counter()
            for cmd_args, options in stack:
                try:
                    client.execute_command(*cmd_args, **options)
                except redis.ResponseError:
                    pass
            naive_times.append(time.perf_counter() - t0)
            naive_trips = COUNT["round_trips"]

    rows = runs[-1][3]
    trips = sorted({r[0] for r in runs})
    cmds = statistics.median(r[1] for r in runs)
    times = [r[2] for r in runs]
    med = statistics.median(times)
    print(f"Redis target with {rows} queue rows ({args.queues} queues: Celery with priority lists, RQ, streams)")
    print(f"{'scrape':<34}{'round trips':>12}{'commands':>10}{'median ms':>11}{'max ms':>9}")
    print(
        f"{'first (connect + discovery)':<34}{first[0]:>12}{first[1]:>10}{first[2] * 1000:>11.2f}"
        f"{first[2] * 1000:>9.2f}"
    )
    print(
        f"{'steady state (one pipeline)':<34}{'/'.join(map(str, trips)):>12}{cmds:>10.0f}{med * 1000:>11.2f}"
        f"{max(times) * 1000:>9.2f}"
    )
    nmed = statistics.median(naive_times)
    print(
        f"{'same commands, no pipeline':<34}{naive_trips:>12}{len(stack):>10}{nmed * 1000:>11.2f}"
        f"{max(naive_times) * 1000:>9.2f}"
    )
    print(
        f"pipeline speed-up: {nmed / med:.1f}x; round trips per scrape after discovery: "
        f"{'/'.join(map(str, trips))} (must be 1)"
    )
    if trips != [1]:
        raise SystemExit("FAIL: more than one round trip per scrape")


if __name__ == "__main__":
    main()
