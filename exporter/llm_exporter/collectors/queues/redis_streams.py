"""Redis streams with consumer groups, as pipeline reads.

Per stream: ``XINFO STREAM`` (length, entries-added) and ``XINFO GROUPS`` (consumers,
pending, lag, entries-read = delivered; entries-read minus pending = acknowledged). Per
group: ``XPENDING key group - + 1`` (the lowest pending entry and how long ago it was
delivered) and a read-only Lua script that finds the first entry after
the group's last-delivered-id (its ID time is the oldest ready age). A ``lag`` of NULL
(Redis cannot compute it) is exported as absent, never 0. A missing stream key is an
empty stream (Redis deletes nothing else), so it exports zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import QueueStats
from .redis_lists import QueueError

# KEYS: stream. ARGV: group. Returns the ID of the first entry not yet delivered to the
# group, or nil when there is none (or no such group).
FIRST_UNDELIVERED = """
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok then return false end
for _, g in ipairs(groups) do
  local name, last = nil, nil
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  if name == ARGV[1] then
    local e = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
    if #e == 0 then return false end
    return e[1][1]
  end
end
return false
"""


def id_seconds(entry_id: Any) -> float | None:
    """Unix seconds of a stream entry ID (``<ms>-<seq>``)."""
    if not entry_id:
        return None
    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    try:
        return int(text.split("-", 1)[0]) / 1000.0
    except ValueError:
        return None


def _no_such_key(exc: Any) -> bool:
    return isinstance(exc, Exception) and "no such key" in str(exc).lower()


@dataclass
class StreamRead:
    """One stream and its consumer groups (``groups`` known from config or discovery)."""

    key: str
    groups: list[str] = field(default_factory=list)
    agents: dict[str, str] = field(default_factory=dict)
    only_configured: bool = False

    def add(self, pipe: Any) -> int:
        pipe.xinfo_stream(self.key)
        pipe.xinfo_groups(self.key)
        for g in self.groups:
            pipe.xpending_range(self.key, g, "-", "+", 1)
            pipe.eval(FIRST_UNDELIVERED, 1, self.key, g)
        return 2 + 2 * len(self.groups)

    def agent(self, group: str) -> str:
        return self.agents.get(group) or self.agents.get("", "")

    def parse(self, replies: list[Any], now: float) -> list[QueueStats]:
        info, groups_raw = replies[0], replies[1]
        if _no_such_key(info) or _no_such_key(groups_raw):
            return [self._empty(g) for g in (self.groups or [""])]
        for r in (info, groups_raw):
            if isinstance(r, Exception):
                raise QueueError(f"stream {self.key}: {r}")
        added = info.get("entries-added")
        groups = {str(g["name"]): g for g in groups_raw}
        if not groups and not self.groups:
            first = info.get("first-entry")
            length = int(info.get("length") or 0)
            first_at = id_seconds(first[0]) if first else None
            return [
                QueueStats(
                    "redis_stream",
                    self.key,
                    "stream",
                    agent=self.agent(""),
                    ready=length,
                    consumers=0,
                    enqueued_total=added,
                    oldest_ready_age=0.0 if length == 0 else (now - first_at if first_at is not None else None),
                )
            ]
        rows: list[QueueStats] = []
        per_group = {g: replies[2 + 2 * i : 4 + 2 * i] for i, g in enumerate(self.groups)}
        names = list(self.groups) if self.only_configured else list(dict.fromkeys([*self.groups, *groups]))
        for name in names:
            g = groups.get(name)
            if g is None:
                raise QueueError(f"stream {self.key}: consumer group {name!r} does not exist")
            pending = int(g.get("pending") or 0)
            lag = g.get("lag")
            row = QueueStats(
                "redis_stream",
                self.key,
                "stream",
                group=name,
                agent=self.agent(name),
                ready=int(lag) if lag is not None else None,
                inflight=pending,
                consumers=int(g.get("consumers") or 0),
                enqueued_total=added,
            )
            read = g.get("entries-read")
            if read is not None:  # NULL when Redis cannot tell (XGROUP SETID to an arbitrary ID)
                row.delivered_total = float(read)
                row.completed_total = max(0.0, float(read) - pending)  # delivered and acknowledged
            extra = per_group.get(name)
            if extra:
                pel, first_id = extra
                bad = pel if isinstance(pel, Exception) else first_id
                if isinstance(bad, Exception):
                    raise QueueError(f"stream {self.key} group {name}: {bad}")
                if pending == 0:
                    row.oldest_inflight_age = 0.0
                elif pel:
                    row.oldest_inflight_age = float(pel[0]["time_since_delivered"]) / 1000.0
                first_at = id_seconds(first_id)
                row.oldest_ready_age = 0.0 if first_id is None else (now - first_at if first_at is not None else None)
            elif lag == 0:
                row.oldest_ready_age = 0.0
            rows.append(row)
        return rows

    def _empty(self, group: str) -> QueueStats:
        return QueueStats(
            "redis_stream",
            self.key,
            "stream",
            group=group,
            agent=self.agent(group),
            ready=0,
            inflight=0 if group else None,
            consumers=0,
            oldest_ready_age=0.0,
            oldest_inflight_age=0.0 if group else None,
        )
