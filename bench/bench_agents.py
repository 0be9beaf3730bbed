"""Celery task-event receiver: lifecycles per CPU-second and memory with 10,000 tasks in flight.

A task lifecycle is four events: task-sent, task-received, task-started, task-succeeded
(with a worker heartbeat every 50 lifecycles). Three measurements, each against the named
baseline ``celery.events.state.State`` (Celery's own in-memory event state, what Flower and
celery-exporter keep):

1. state only: the event dicts applied to ``TaskEventState`` vs ``State.event``;
2. through Celery's ``EventReceiver`` (clock adjustment, timestamp localisation, dispatch),
   bodies already decoded, vs the same receiver feeding ``State``;
3. end to end over a real redis-server (tests/brokers.py): a subprocess publishes the events
   with Celery's ``EventDispatcher`` (batched, as workers do); the exporter's receiver thread
   consumes them; CPU = this process's CPU time (receiver thread plus an idle main thread)
   from the first to the last event.

Memory: ``tracemalloc`` of 10,000 tasks sent and not started. Goal (issue 11): at least
5,000 lifecycles per CPU-second, so 100 tasks/s costs under 10 % of a core. Usage::

    python bench/bench_agents.py [--lifecycles 20000] [--e2e 5000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "queues")]

from llm_exporter.collectors.queues.celery_events import TaskEventState  # noqa: E402

GOAL = 5_000.0


def lifecycle_events(n: int, t0: float = 1_700_000_000.0) -> list[dict[str, Any]]:
    """4 events per task (plus a heartbeat every 50), in worker order."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        uuid = f"00000000-0000-0000-0000-{i:012d}"
        ts = t0 + i * 0.01
        name = f"agents.task{i % 20}"
        common = {"uuid": uuid, "clock": i, "utcoffset": 0, "pid": 1, "local_received": ts}
        out.append(
            {"type": "task-sent", "timestamp": ts, "name": name, "queue": f"q{i % 5}", "hostname": "p", **common}
        )
        out.append({"type": "task-received", "timestamp": ts + 0.1, "name": name, "hostname": "w1", **common})
        out.append({"type": "task-started", "timestamp": ts + 0.2, "hostname": "w1", **common})
        out.append({"type": "task-succeeded", "timestamp": ts + 0.5, "runtime": 0.3, "hostname": "w1", **common})
        if i % 50 == 0:
            out.append(
                {
                    "type": "worker-heartbeat",
                    "timestamp": ts,
                    "hostname": "w1",
                    "freq": 2.0,
                    "clock": i,
                    "local_received": ts,
                    "utcoffset": 0,
                }
            )
    return out


def cpu_rate(apply: Any, events: list[dict[str, Any]], lifecycles: int) -> float:
    start = time.process_time()
    for ev in events:
        apply(ev)
    return lifecycles / max(time.process_time() - start, 1e-9)


def celery_state() -> Any:
    from celery.events.state import State

    return State(max_tasks_in_memory=10_000)


def state_only(n: int) -> tuple[float, float]:
    events = lifecycle_events(n)
    ours = TaskEventState(max_inflight=10_000)
    base = celery_state()
    return cpu_rate(ours.on_event, [dict(e) for e in events], n), cpu_rate(base.event, [dict(e) for e in events], n)


def through_receiver(n: int) -> tuple[float, float]:
    from celery import Celery
    from celery.events.receiver import EventReceiver

    app = Celery("bench", broker="memory://", set_as_current=False)
    ours = TaskEventState(max_inflight=10_000)
    base = celery_state()
    rates = []
    for handler in (ours.on_event, base.event):
        recv = EventReceiver(None, handlers={"*": handler}, app=app)
        events = [dict(e) for e in lifecycle_events(n)]
        start = time.process_time()
        for i in range(0, len(events), 100):  # workers send task events in batches
            recv._receive(events[i : i + 100], None)
        rates.append(n / max(time.process_time() - start, 1e-9))
    return rates[0], rates[1]


PUBLISHER = """
import sys, json
from celery import Celery
app = Celery("pub", broker=sys.argv[1], set_as_current=False)
events = json.load(open(sys.argv[2]))
with app.connection_for_write() as conn:
    d = app.events.Dispatcher(conn, hostname="w1", buffer_group=["task"], buffer_limit=100)
    for ev in events:
        kind = ev.pop("type")
        for k in ("clock", "utcoffset", "pid", "hostname", "timestamp", "local_received"):
            ev.pop(k, None)
        d.send(kind, **ev)
    d.flush()
    d.close()
"""


def end_to_end(n: int) -> tuple[float, int]:
    """Lifecycles per CPU-second of this process while its receiver thread consumes n lifecycles."""
    from brokers import redis_server
    from llm_exporter.collectors.queues.celery_receiver import CeleryEvents
    from llm_exporter.config import load_config_text

    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as srv:
        cfg = load_config_text(
            f"queues:\n  - name: b\n    backend: redis\n    url: {srv.url}\n"
            "    celery_events: {inspect_queues: false, max_inflight: 20000}\n"
        ).queues[0]
        events = CeleryEvents(cfg)
        events.start()
        deadline = time.monotonic() + 30
        while not events.state.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        path = Path(tmp) / "events.json"
        path.write_text(json.dumps([e for e in lifecycle_events(n) if e["type"] != "worker-heartbeat"]))
        expected = 4 * n
        cpu0 = time.process_time()
        pub = subprocess.Popen([sys.executable, "-c", PUBLISHER, srv.url, str(path)])
        deadline = time.monotonic() + 300
        while events.state.snapshot().events < expected and time.monotonic() < deadline:
            time.sleep(0.02)
        cpu = time.process_time() - cpu0
        got = events.state.snapshot().events
        pub.wait(60)
        events.close()
        return (got / 4) / max(cpu, 1e-9), got


def memory(n: int = 10_000) -> tuple[float, float]:
    """Bytes per task for n tasks sent and not started: ours, Celery's State."""
    sent = [e for e in lifecycle_events(n) if e["type"] == "task-sent"]
    sizes = []
    for make in (lambda: TaskEventState(max_inflight=n), celery_state):
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        state = make()
        apply = state.on_event if isinstance(state, TaskEventState) else state.event
        for e in sent:
            apply(dict(e))
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        sizes.append((after - before) / n)
        del state
    return sizes[0], sizes[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--lifecycles", type=int, default=20_000)
    ap.add_argument("--e2e", type=int, default=5_000, help="lifecycles for the end-to-end run over Redis (0: skip)")
    args = ap.parse_args()
    print("baseline: celery.events.state.State (Celery's own event state: Flower, celery-exporter)")
    print(f"goal: >= {GOAL:,.0f} task lifecycles per CPU-second\n")
    print(f"{'measurement':44} {'llm-exporter':>14} {'baseline':>12} {'ratio':>7}")
    ours, base = state_only(args.lifecycles)
    print(f"{'state only (lifecycles/CPU-s)':44} {ours:14,.0f} {base:12,.0f} {ours / base:6.1f}x")
    ours, base = through_receiver(args.lifecycles)
    print(f"{'through EventReceiver (lifecycles/CPU-s)':44} {ours:14,.0f} {base:12,.0f} {ours / base:6.1f}x")
    if args.e2e:
        rate, got = end_to_end(args.e2e)
        verdict = "meets" if rate >= GOAL else "MISSES"
        print(f"{'end to end over redis-server (lifecycles/CPU-s)':44} {rate:14,.0f} {'-':>12} {'':>7}")
        print(f"  {got:,} of {4 * args.e2e:,} events received; {verdict} the goal")
    ours_b, base_b = memory()
    print(
        f"{'memory, 10,000 tasks in flight (MiB)':44} {ours_b * 10_000 / 2**20:14.1f} "
        f"{base_b * 10_000 / 2**20:12.1f} {base_b / ours_b:6.1f}x less"
    )
    print(f"{'  per task (bytes)':44} {ours_b:14,.0f} {base_b:12,.0f}")


if __name__ == "__main__":
    main()
