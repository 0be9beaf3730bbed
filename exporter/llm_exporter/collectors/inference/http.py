"""Reading an inference server's Prometheus endpoint through the shared bounded reader."""

from __future__ import annotations

from ...promtext import Parser, PromTextError, Snapshot
from ...scrape import Deadline, TargetDown
from ..httpread import Session, body, get

ACCEPT = "text/plain;version=0.0.4;q=1.0, application/openmetrics-text;version=1.0.0;q=0.5, */*;q=0.1"


def fetch_metrics(
    session: Session,
    url: str,
    deadline: Deadline,
    *,
    cap: float,
    headers: dict[str, str],
    parser: Parser,
    redirects: str = "same_origin",
) -> Snapshot:
    """Stream ``url`` into ``parser``; returns the snapshot."""
    with get(session, url, deadline, cap=cap, headers={"Accept": ACCEPT, **headers}, redirects=redirects) as resp:
        ctype = resp.headers.get("Content-Type", "").lower()
        if "html" in ctype or "json" in ctype:
            raise TargetDown(f"{url} answered {ctype.split(';')[0]}, not Prometheus text")
        try:
            for chunk in body(resp, url, parser.max_bytes, whole=parser.max_held):
                parser.feed(chunk)
            snap = parser.close()
        except PromTextError as exc:
            raise TargetDown(f"bad exposition from {url}: {exc}") from None
    if "openmetrics" in ctype and not snap.openmetrics_eof:
        raise TargetDown(f"truncated body from {url}: OpenMetrics body without '# EOF'")
    return snap
