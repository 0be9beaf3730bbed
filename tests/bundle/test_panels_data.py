"""Every panel query of every dashboard returns data on a real Prometheus that scraped the real exporter.

One exporter and one Prometheus (with the generated recording rules) serve all dashboards. The
exporter reads:

- a live-looking vLLM (fixture served by a local HTTP server, counters growing) with its process,
  and a second one with preemptions, request lengths, phase times, speculative decoding, LoRA and
  two data-parallel engines (``vllm-v1-signals.prom``);
- last week's recorded mean request lengths, backfilled into Prometheus' TSDB with promtool, so
  the drift-against-last-week panel has a week-old side;
- an OpenAI-compatible API (the inference tests' local server) with an active streaming probe
  that returns rate-limit headers;
- an Ollama server (the inference tests' local server answering /api/ps and /api/version with the
  Ollama fixtures): loaded-model memory, VRAM and keep-alive expiry;
- the fake NVML (tests/gpu) with GPM, PCIe throughput and NVLink turned on: two H100s (XID 79 on
  one, 94 on the other), an H100 in MIG mode (a 3g.40gb GPU instance with two compute instances and a 2g.20gb one)
  and a fan-cooled Turing Quadro (fan speed, retired pages, no row remapping, no GPM);
- a real Redis: a plain list, a Celery queue with a fetched ETA task (in flight and delayed) and
  a stream whose consumer group holds unacknowledged entries;
- a real RabbitMQ: a work queue with a dead-letter exchange, one message dead-lettered, one
  redelivered, one acknowledged and a consumer holding two unacknowledged deliveries;
- a real NATS JetStream work-queue stream with a durable pull consumer holding two unacked messages;
- agent tasks: a real Celery worker (task events on) on the Redis, read by the exporter's event
  receiver, runs tasks that succeed, fail and retry once; a real RQ worker finishes and fails jobs;
- a live-looking LiteLLM proxy (a body captured from litellm 1.108.7, counters growing) read with
  ``agents: {label: end_user, max_agents: 2}``: three agents, one folded into ``other``;
- configured prices.

Every query of every dashboard (variables set to All) must return at least one series; the
failure names dashboard, panel and query.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pika
import pytest
import redis
from brokers import nats_server, rabbitmq_server, redis_server
from exporter_proc import run_exporter
from gpu import fakenvml
from http_upstream import Route, Upstream, fixture, send
from prom import start_prometheus

from bundle.agent_feeds import agent_workers
from bundle.common import ALERT_FILE, RECORD_FILE, dashboards, panels, rule_groups, substitute
from bundle.live import LiveEngine
from monitoring.promql import metric_names, selectors

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
PROBE_MODEL = "gpt-probe"
LIMITS = {"x-ratelimit-remaining-requests": "4999", "x-ratelimit-remaining-tokens": "159980"}


def _sse_chat(headers: dict[str, str]) -> Route:
    """A streaming chat completion (server-sent events), as an OpenAI-compatible server sends it."""
    events = [
        json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}),
        *(
            json.dumps(
                {
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}],
                }
            )
            for t in ("O", "K")
        ),
        "[DONE]",
    ]

    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        for e in events:
            data = f"data: {e}\n\n".encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()
        h.wfile.write(b"0\r\n\r\n")

    return route


def _openai_api() -> Upstream:
    models = json.dumps({"object": "list", "data": [{"id": PROBE_MODEL, "object": "model"}]}).encode()
    return Upstream(
        {"GET /v1/models": send(200, models, "application/json"), "POST /v1/chat/completions": _sse_chat(LIMITS)}
    )


def _ollama() -> Upstream:
    """An Ollama server: the routes the collector reads, with the captured Ollama payloads."""
    return Upstream(
        {
            "/api/ps": send(200, fixture("ollama-ps.json"), "application/json"),
            "/api/version": send(200, fixture("ollama-version.json"), "application/json"),
        }
    )


def _gpus() -> str:
    """Two H100s (XID 79 on the first, 94 on the second), an H100 in MIG mode and a fan-cooled Turing Quadro with ECC."""
    mig_gpu = fakenvml.h100(
        2,
        mig=1,
        procs="",
        unsupported=fakenvml.MIG_UNSUPPORTED,
    )
    migs = [
        {
            "gi": 1,
            "ci": ci,
            "profile_id": 9,
            "uuid": f"MIG-aaaaaaaa-0000-5000-8000-00000000000{ci + 1}",
            "mem_total": 40 * fakenvml.GIB,
            "mem_used": 5 * fakenvml.GIB,
            "procs": f"{5001 + ci}:{2 * fakenvml.GIB}",
        }
        for ci in (0, 1)
    ]
    migs.append(
        {
            "gi": 2,
            "ci": 0,
            "profile_id": 14,
            "uuid": "MIG-aaaaaaaa-0000-5000-8000-000000000003",
            "mem_total": 20 * fakenvml.GIB,
            "mem_used": 7 * fakenvml.GIB,
            "procs": f"5003:{7 * fakenvml.GIB}",
        }
    )
    # Turing (pre-Ampere): a fan, page retirement instead of row remapping, no MIG, no GPM, no NVLink.
    quadro = fakenvml.h100(
        3,
        name="Quadro RTX 8000",
        brand=2,
        arch=7,
        cc="7.5",
        mem_total=48 * fakenvml.GIB,
        fan=35,
        pstate=2,
        retired_sbe=2,
        retired_dbe=1,
        retired_pending=1,
        gpm_supported=0,
        nvlinks=0,
        unsupported="nvmlDeviceGetRemappedRows,nvmlDeviceGetMigMode",
    )
    gpus = [fakenvml.h100(0), fakenvml.h100(1), mig_gpu, quadro]
    return fakenvml.render(gpus, {2: migs}, xids=[(0, 79), (1, 94)])  # fatal, and contained ECC (ticket)


@contextlib.contextmanager
def _redis_queues(url: str) -> Iterator[None]:
    """A plain list, a Celery queue with a fetched countdown task, a stream group with pending entries."""
    from celery import Celery

    r = redis.Redis.from_url(url)
    r.lpush("tasks", *[f"task-{i}" for i in range(7)])
    for i in range(5):
        r.xadd("tool-calls", {"n": str(i)})
    r.xgroup_create("tool-calls", "workers", id="0")
    r.xreadgroup("workers", "c1", {"tool-calls": ">"}, count=2)  # read, never acked: in flight
    app = Celery("agents", broker=url)
    app.conf.broker_connection_retry_on_startup = False

    @app.task(name="agents.plan")
    def plan(x: int) -> int:
        return x

    plan.apply_async(args=(1,), queue="planner")
    plan.apply_async(args=(2,), queue="planner", countdown=3600)  # ETA task: delayed once fetched
    conn = app.connection_for_read()
    try:
        ch = conn.default_channel
        # What a Celery worker does: fetch without ack (kombu's unacked hash). Kept open, since
        # closing the channel restores unacked messages to the queue.
        assert all(ch.basic_get("planner", no_ack=False) is not None for _ in range(2))
        yield
    finally:
        conn.close()


@contextlib.contextmanager
def _rabbit_queues(amqp_url: str) -> Iterator[None]:
    """A work queue with a DLX: 1 dead-lettered, 1 redelivered, 1 acked, 2 held by a consumer."""
    params = pika.URLParameters(amqp_url + "?heartbeat=0")
    conn = pika.BlockingConnection(params)
    consumer = pika.BlockingConnection(params)
    try:
        ch = conn.channel()
        ch.exchange_declare("agents.dlx", exchange_type="direct")
        ch.queue_declare("agents.dead")
        ch.queue_bind("agents.dead", "agents.dlx", routing_key="agents.work")
        ch.queue_declare("agents.work", arguments={"x-dead-letter-exchange": "agents.dlx"})
        stamp = int(time.time()) - 120
        for i in range(7):
            ch.basic_publish("", "agents.work", f"task {i}".encode(), pika.BasicProperties(timestamp=stamp))
        m = ch.basic_get("agents.work", auto_ack=False)[0]
        ch.basic_reject(m.delivery_tag, requeue=False)  # dead-lettered
        m = ch.basic_get("agents.work", auto_ack=False)[0]
        ch.basic_ack(m.delivery_tag)  # completed
        m = ch.basic_get("agents.work", auto_ack=False)[0]
        ch.basic_nack(m.delivery_tag, requeue=True)  # back to the queue: its next delivery is a redelivery
        cc = consumer.channel()
        cc.basic_qos(prefetch_count=2)
        cc.basic_consume("agents.work", lambda *a: None, auto_ack=False)  # holds 2 deliveries unacked
        yield
    finally:
        for c in (consumer, conn):
            with contextlib.suppress(pika.exceptions.AMQPError):
                c.close()


async def _fill_jetstream(url: str) -> None:
    import nats
    from nats.js.api import RetentionPolicy, StreamConfig

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="TASKS", subjects=["tasks.>"], retention=RetentionPolicy.WORK_QUEUE))
        for i in range(5):
            await js.publish("tasks.plan", f"task {i}".encode())
        sub = await js.pull_subscribe("tasks.>", durable="planner")
        assert len(await sub.fetch(2, timeout=5)) == 2  # delivered, never acked
    finally:
        await nc.close()


def _last_week(model: str) -> str:
    """OpenMetrics backfill: the recorded one-hour mean lengths one week ago (for the drift panel)."""
    now = time.time()
    lines = []
    for metric, value in (("llm_request_prompt_tokens", 250.0), ("llm_request_generation_tokens", 140.0)):
        lines.append(f"# TYPE model:{metric}:mean1h gauge")
        for t in range(int(now - 7 * 86400 - 3600), int(now - 7 * 86400 + 3600), 60):
            lines.append(f'model:{metric}:mean1h{{job="llm-exporter",model="{model}"}} {value} {t}')
    return "\n".join(lines) + "\n# EOF\n"


def _config(
    engine: LiveEngine,
    signals: LiveEngine,
    api: Upstream,
    ollama: Upstream,
    redis_url: str,
    rabbit: Any,
    nats_monitor: str,
    gateway: LiveEngine,
) -> str:
    return f"""
inference:
  - name: gateway
    url: {gateway.url}
    server: litellm
    agents: {{label: end_user, max_agents: 2}}
  - name: vllm-a
    url: {engine.url}
    server: vllm
    process: {{from_port: true}}
  - name: vllm-b
    url: {signals.url}
    server: vllm
  - name: api
    url: {api.url}
    server: openai
    probe: {{model: {PROBE_MODEL}, interval: 2s, timeout: 5s, max_tokens: 4}}
  - name: ollama
    url: {ollama.url}
    server: ollama
gpu:
  enabled: true
  processes: true
  gpm: true
  pcie_throughput: true
  nvlink: true
queues:
  - name: redis-a
    backend: redis
    url: {redis_url}
    queues:
      - {{name: tasks, kind: list, agent: summariser}}
      - {{name: planner, kind: celery, agent: planner}}
      - {{name: tool-calls, kind: stream, group: workers, agent: tools}}
      - {{name: agents, kind: celery, agent: researcher}}
      - {{name: research, kind: rq, agent: librarian}}
    celery_events: {{reconnect_interval: 0.5}}
  - name: rabbit
    backend: rabbitmq
    url: {rabbit.management_url}
    username: {rabbit.username}
    password: {rabbit.password}
    queues:
      - {{name: agents.work, agent: worker}}
  - name: jetstream
    backend: nats
    url: {nats_monitor}
    queues:
      - {{name: TASKS, group: planner, agent: planner}}
pricing:
  gpu_per_hour: 2.5
  models:
    - {{model: "{MODEL}", prompt_per_million: 1.0, generation_per_million: 3.0}}
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real exporter and a Prometheus with the recording and alerting rules, all states reached."""
    tmp_path = tmp_path_factory.mktemp("panels")
    lib_dir = fakenvml.build()
    scenario = fakenvml.write_scenario(tmp_path / "nvml.conf", _gpus())
    env = {"LD_LIBRARY_PATH": str(lib_dir), fakenvml.ENV: str(scenario)}
    with contextlib.ExitStack() as stack:
        mq = stack.enter_context(rabbitmq_server(tmp_path))
        rd = stack.enter_context(redis_server(tmp_path))
        js = stack.enter_context(nats_server(tmp_path))
        stack.enter_context(_rabbit_queues(mq.amqp_url))
        stack.enter_context(_redis_queues(rd.url))
        asyncio.run(_fill_jetstream(js.url))
        api = stack.enter_context(_openai_api())
        ollama = stack.enter_context(_ollama())
        engine = LiveEngine("vllm-v1.prom").start()
        stack.callback(engine.stop)
        # Preemptions, lengths, phases, spec decode, LoRA and two data-parallel engines.
        signals = LiveEngine("vllm-v1-signals.prom").start()
        stack.callback(signals.stop)
        # A LiteLLM proxy's body (captured from litellm 1.108.7) with three agents; the cap of 2 folds one.
        gateway = LiveEngine("litellm-1.108-agents.prom").start()
        stack.callback(gateway.stop)
        config = _config(engine, signals, api, ollama, rd.url, mq, js.monitor_url, gateway)
        exp = stack.enter_context(run_exporter(config, tmp_path, env={**os.environ, **env}))
        prom = stack.enter_context(
            start_prometheus(
                tmp_path,
                [exp.address],
                rule_files=[RECORD_FILE, ALERT_FILE],
                backfill=_last_week(MODEL),
                retention="9d",
            )
        )
        prom.wait_for("model:llm_cost_dollars_per_million_tokens:ratio", timeout=90)
        prom.wait_for('llm_queue_events_connected{target="redis-a"} == 1', timeout=60)
        stack.enter_context(agent_workers(rd.url, tmp_path))
        # The exact broker states above, as Prometheus sees them (RabbitMQ statistics lag a little).
        for expr in (
            'llm_queue_inflight_messages{backend="rabbitmq", queue="agents.work"} == 2',
            'llm_queue_consumers{backend="rabbitmq", queue="agents.work"} == 1',
            'llm_queue_dead_messages{backend="rabbitmq", queue="agents.work"} == 1',
            'llm_queue_redelivered_total{backend="rabbitmq", queue="agents.work"} == 1',
            'llm_queue_completed_total{backend="rabbitmq", queue="agents.work"} == 1',
            'llm_queue_delayed_messages{backend="celery", queue="planner"} == 1',
            'llm_queue_inflight_messages{backend="redis_stream", queue="tool-calls"} == 2',
            'llm_queue_inflight_messages{backend="nats", queue="TASKS"} == 2',
            f'llm_probe_success{{target="api", model="{PROBE_MODEL}"}} == 1',
            'llm_model_gpu_memory_bytes{target="ollama", model="llama3.2:3b"} == 2549809152',
            'llm_gpu_mig_instance_info{profile="3g.40gb"}',
            'llm_gpu_fan_speed_ratio{gpu="3"} == 0.35',
            'llm_gpu_retired_pages_pending{gpu="3"} == 1',
            'llm_gpu_tensor_active_ratio{gpu="0"} == 0.25',
            'llm_queue_pull_requests_waiting{backend="nats", queue="TASKS"}',
            "model:llm_request_prompt_tokens:mean1h_last_week",
            "model:llm_spec_decode_acceptance:ratio_rate5m",
            'llm_queue_tasks_total{backend="celery", task="agents.flaky", outcome="retried"} == 1',
            'llm_queue_tasks_total{backend="celery", task="agents.broken", outcome="failed"} == 1',
            'llm_queue_tasks_total{backend="celery", task="agents.plan", outcome="succeeded"} == 3',
            'llm_queue_tasks_total{backend="rq", outcome="failed"} == 1',
            'llm_queue_tasks_total{backend="rq", outcome="succeeded"} == 2',
            'llm_queue_workers{backend="celery", queue="agents"} == 1',
            'llm_agent_folded_agents{target="gateway"} == 1',
        ):
            prom.wait_for(expr, timeout=60)
        prom.wait_for("count_over_time(llm_target_up[30s]) >= 12", timeout=90)
        yield prom


@pytest.mark.slow
def test_every_panel_query_returns_data(live: Any) -> None:
    empty = []
    for name, d in dashboards().items():
        for p in panels(d):
            for t in p["targets"]:
                if not live.query(substitute(t["expr"], rate_interval="10s", rng="1m")):
                    empty.append(f"{name} / {p['title']!r} [{t['refId']}]: {t['expr']}")
    assert not empty, "panel queries without data:\n" + "\n".join(empty)


@pytest.mark.slow
def test_every_rule_selector_matches_real_series(live: Any) -> None:
    """A rule that selects a name or label value the exporter never emits can never fire.

    promtool unit tests feed rules synthetic series, so they cannot catch that; here every
    selector of every recording and alerting rule must match series the real exporter produced.
    """
    recorded = {r["record"] for g in rule_groups(RECORD_FILE) for r in g["rules"]}
    unmatched = []
    for path in (RECORD_FILE, ALERT_FILE):
        for g in rule_groups(path):
            for r in g["rules"]:
                expr = r["expr"]
                with_matchers = selectors(expr)
                bare = metric_names(expr) - {s.split("{", 1)[0] for s in with_matchers}
                for sel in [*with_matchers, *sorted(bare)]:
                    if sel.split("{", 1)[0] in recorded:
                        continue  # recorded series: their own inputs are checked as rules
                    if not live.query(f"count({sel})"):
                        unmatched.append(f"{r.get('record') or r.get('alert')}: {sel}")
    assert not unmatched, "rule selectors matching no real series:\n" + "\n".join(sorted(set(unmatched)))
