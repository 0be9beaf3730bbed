"""Logging in the two formats Prometheus users know: logfmt (default) and JSON."""

from __future__ import annotations

import logging
import sys
import threading
import time
from types import TracebackType

from .redact import redact

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
        msg = redact(msg)
        fields = [("ts", _ts(record)), ("level", _level(record)), ("logger", record.name), ("msg", msg)]
        return " ".join(f"{k}={_quote(v)}" for k, v in fields)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def __init__(self) -> None:
        super().__init__()
        import json  # only with --log.format=json

        self._dumps = json.dumps

    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": _ts(record), "level": _level(record), "logger": record.name, "msg": redact(record.getMessage())}
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return self._dumps(doc, ensure_ascii=False)


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
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_thread_uncaught
    for noisy in ("urllib3", "pika", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def _log_uncaught(tp: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """An uncaught exception goes through the log format (redacted), never raw to stderr."""
    logging.getLogger("llm_exporter").error("uncaught %s: %s", tp.__name__, exc, exc_info=(tp, exc, tb))


def _log_thread_uncaught(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("llm_exporter").error(
        "uncaught %s in thread %s: %s",
        args.exc_type.__name__,
        name,
        args.exc_value,
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )
