"""Bounded HTTP reads of upstreams: every failure becomes a ``TargetDown`` with a clear reason."""

from __future__ import annotations

import json
from typing import Any

import requests

from ...promtext import CHUNK, Parser, PromTextError, Snapshot
from ...scrape import Deadline, TargetDown

ACCEPT = "text/plain;version=0.0.4;q=1.0, application/openmetrics-text;version=1.0.0;q=0.5, */*;q=0.1"


def _get(session: requests.Session, url: str, deadline: Deadline, cap: float, headers: dict[str, str]):
    if deadline.expired():
        raise TargetDown(f"no time left in the scrape deadline for {url}")
    try:
        resp = session.get(url, headers=headers, timeout=deadline.timeout(cap), stream=True, allow_redirects=True)
    except requests.exceptions.ConnectTimeout:
        raise TargetDown(f"connect timeout to {url}") from None
    except requests.exceptions.ReadTimeout:
        raise TargetDown(f"timeout waiting for {url}") from None
    except requests.exceptions.ConnectionError as exc:
        text = str(exc)
        why = "connection refused" if "refused" in text.lower() else "connection failed"
        raise TargetDown(f"{why}: {url}") from None
    except requests.exceptions.RequestException as exc:
        raise TargetDown(f"request to {url} failed: {type(exc).__name__}") from None
    if resp.status_code != 200:
        resp.close()
        raise TargetDown(f"HTTP {resp.status_code} from {url}")
    return resp


def _chunks(resp, url: str, deadline: Deadline, max_bytes: int):
    length = resp.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        resp.close()
        raise TargetDown(f"body of {url} is {length} bytes, more than the limit of {max_bytes}")
    try:
        for chunk in resp.iter_content(CHUNK):
            if deadline.expired():
                raise TargetDown(f"timeout reading the body of {url}")
            yield chunk
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
        raise TargetDown(f"truncated body from {url}: {type(exc).__name__}") from None
    except requests.exceptions.ConnectionError:
        raise TargetDown(f"truncated body from {url}: connection broken") from None
    except requests.exceptions.Timeout:
        raise TargetDown(f"timeout reading the body of {url}") from None
    finally:
        resp.close()


def fetch_metrics(
    session: requests.Session,
    url: str,
    deadline: Deadline,
    *,
    cap: float,
    headers: dict[str, str],
    parser: Parser,
) -> tuple[Snapshot, dict[str, str]]:
    """Stream ``url`` into ``parser``; returns the snapshot and the response headers."""
    resp = _get(session, url, deadline, cap, {"Accept": ACCEPT, **headers})
    ctype = resp.headers.get("Content-Type", "").lower()
    if "html" in ctype or "json" in ctype:
        resp.close()
        raise TargetDown(f"{url} answered {ctype.split(';')[0]}, not Prometheus text")
    try:
        for chunk in _chunks(resp, url, deadline, parser.max_bytes):
            parser.feed(chunk)
        snap = parser.close()
    except PromTextError as exc:
        resp.close()
        raise TargetDown(f"bad exposition from {url}: {exc}") from None
    if "openmetrics" in ctype and not snap.openmetrics_eof:
        raise TargetDown(f"truncated body from {url}: OpenMetrics body without '# EOF'")
    return snap, dict(resp.headers)


def fetch_json(
    session: requests.Session,
    url: str,
    deadline: Deadline,
    *,
    cap: float,
    headers: dict[str, str],
    max_bytes: int = 4 * 1024 * 1024,
) -> Any:
    """GET a small JSON document (bounded size) or raise ``TargetDown``."""
    resp = _get(session, url, deadline, cap, {"Accept": "application/json", **headers})
    body = bytearray()
    for chunk in _chunks(resp, url, deadline, max_bytes):
        body += chunk
        if len(body) > max_bytes:
            raise TargetDown(f"body of {url} larger than {max_bytes} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise TargetDown(f"{url} did not answer JSON") from None
