"""Logging in the two formats Prometheus users know: logfmt (default) and JSON."""

from __future__ import annotations

import json
import logging
import sys
import time

LEVELS = ("debug", "info", "warn", "error")


def _ts(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _level(record: logging.LogRecord) -> str:
    return {"WARNING": "warn", "CRITICAL": "error"}.get(record.levelname, record.levelname.lower())


class LogfmtFormatter(logging.Formatter):
    """``ts=... level=info logger=llm_exporter.scrape msg="..."``."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.exc_info:
            msg += " " + self.formatException(record.exc_info).replace("\n", " | ")
        fields = [("ts", _ts(record)), ("level", _level(record)), ("logger", record.name), ("msg", msg)]
        return " ".join(f"{k}={_quote(v)}" for k, v in fields)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": _ts(record), "level": _level(record), "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def _quote(v: str) -> str:
    if v and not any(c in v for c in ' "=\n\t'):
        return v
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def setup(level: str = "info", fmt: str = "logfmt") -> None:
    """Configure the root logger once, from the CLI."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel({"warn": logging.WARNING}.get(level, getattr(logging, level.upper(), logging.INFO)))
    for noisy in ("urllib3", "pika", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
