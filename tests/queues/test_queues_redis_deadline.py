"""Redis calls use the current scrape's remaining deadline (issue 10 item 13), against a real redis-server.

redis-py's parser restores the socket timeout it captured when the connection was opened,
so a pooled connection used to keep the first scrape's deadline for ever.
"""

from __future__ import annotations

import redis
from brokers import RedisServer
from llm_exporter.collectors.queues import RedisQueueCollector
from llm_exporter.scrape import ScrapeEngine
from qhelp import target, up
from values import value


def test_slow_redis_is_read_under_the_current_scrape_deadline(redis_srv: RedisServer) -> None:
    client = redis.Redis.from_url(redis_srv.url)
    client.rpush("slow:jobs", "a", "b")
    cfg = target(
        f"name: r\nbackend: redis\nurl: {redis_srv.url}\ntimeout: 30s\nqueues:\n  - {{name: 'slow:jobs', kind: list}}"
    )
    collector = RedisQueueCollector(cfg)
    engine = ScrapeEngine([collector], min_interval=0)
    try:
        assert up(engine.scrape(1.5), "r") == 1.0  # opens the pooled connection under a short deadline
        # Redis holds every other client's commands for 4 s; this scrape has 12 s, so it must wait.
        client.execute_command("CLIENT", "PAUSE", "4000", "ALL")
        second = engine.scrape(12.0)
        assert up(second, "r") == 1.0
        assert value(second, "llm_queue_ready_messages", queue="slow:jobs") == 2
    finally:
        client.execute_command("CLIENT", "UNPAUSE")
        collector.close()
        client.close()
