"""The running exporter: current config, its collectors, reloads and self metrics.

A reload parses and validates the new file and builds its collectors first; only a config
that got that far replaces the running one. Any failure (an invalid file, a collector that
cannot be built, a bug) leaves everything as it was, sets
``llm_exporter_config_last_reload_successful 0`` and returns the reasons, one per line,
redacted. Reloads run one at a time.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import __version__, exposition, redact
from .collectors import build_collectors
from .config import Config, ConfigError, load_config, secret_values
from .metricset import MetricSet
from .scrape import Collection, Collector, ScrapeEngine, close_collectors

if TYPE_CHECKING:
    from pathlib import Path  # imported where a file is read

log = logging.getLogger(__name__)

# platform.python_version() without importing platform: the first word of sys.version ("3.11.7").
PYTHON_VERSION = sys.version.split()[0]


class Runtime:
    """Owns the config and the scrape engine; safe to call from many HTTP threads."""

    def __init__(self, config_path: str | Path | None, config: Config | None = None) -> None:
        self.config_path = config_path
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self.config = config if config is not None else load_config(config_path)
        redact.set_secrets(secret_values(self.config))
        try:
            self.engine = self._engine(self.config, ())
        except Exception as exc:
            raise ConfigError([f"<root>: cannot build the collectors: {type(exc).__name__}: {exc}"]) from None
        self.reload_ok = True
        self.reload_ok_at = time.time()
        self._collected = threading.Event()  # readiness: the first collection has finished
        self.last_metrics: MetricSet | None = None  # the last collection, for the status page
        self.last_collected_at = 0.0
        self._generation = 0  # bumped on every reload attempt: part of the render cache key
        self._render_lock = threading.Lock()
        self._rendered_key: tuple[object, ...] = ()
        self._rendered: dict[tuple[bool, bool], bytes] = {}

    @staticmethod
    def _engine(config: Config, previous: Sequence[Collector]) -> ScrapeEngine:
        return ScrapeEngine(build_collectors(config, previous), min_interval=config.scrape.min_interval)

    def reload(self) -> list[str]:
        """Re-read the config file; keep the old config on any error.

        Returns the reasons of a failure (redacted, one per item), or an empty list on success.
        """
        with self._reload_lock:
            try:
                new = load_config(self.config_path)
                with self._lock:
                    old = self.engine
                engine = self._engine(new, old.collectors)
            except ConfigError as exc:
                return self._reload_failed(exc.errors)
            except Exception as exc:  # never a raw traceback (it may print a secret)
                return self._reload_failed([f"<root>: cannot build the collectors: {type(exc).__name__}: {exc}"])
            with self._lock:
                kept = {id(c) for c in engine.collectors}
                close_collectors(c for c in old.collectors if id(c) not in kept)
                self.config, self.engine = new, engine
                self.reload_ok, self.reload_ok_at = True, time.time()
                self._generation += 1
                redact.add_secrets(secret_values(new))
        log.info("config reloaded: %d collectors", len(engine.collectors))
        return []

    def _reload_failed(self, errors: list[str]) -> list[str]:
        errors = [redact.redact(e) for e in errors]
        with self._lock:
            self.reload_ok = False
            self._generation += 1
        log.error("config reload rejected, keeping the running config: %s", "; ".join(errors))
        return errors

    def scrape_timeout(self, header: str | None) -> float:
        """Deadline from X-Prometheus-Scrape-Timeout-Seconds minus the offset, capped by config."""
        sc = self.config.scrape
        timeout = sc.timeout
        try:
            asked = float(header) if header else 0.0
        except ValueError:
            asked = 0.0
        if asked > 0:
            timeout = min(asked, timeout)
        return max(0.05, timeout - sc.timeout_offset)

    @property
    def ready(self) -> bool:
        """Config loaded (always, once constructed) and a first collection finished, whatever it found."""
        return self._collected.is_set()

    def start_warmup(self) -> threading.Thread:
        """Run the first collection in the background so that ``/-/ready`` turns 200 without a scrape."""

        def warm() -> None:
            try:
                self.collect(self.scrape_timeout(None))
            except Exception as exc:
                log.error("first collection failed: %s: %s", type(exc).__name__, exc)
            finally:
                self._collected.set()

        thread = threading.Thread(target=warm, name="first-collection", daemon=True)
        thread.start()
        return thread

    def collect(self, timeout: float) -> MetricSet:
        """One full collection: every collector plus the exporter's own gauges."""
        return self._collect(timeout)[0]

    def _collect(self, timeout: float) -> tuple[MetricSet, tuple[object, ...]]:
        with self._lock:
            engine = self.engine
            reload_ok, reload_at, generation = self.reload_ok, self.reload_ok_at, self._generation
        collection: Collection = engine.collect(timeout)
        self._collected.set()
        out = collection.metrics
        self.last_metrics, self.last_collected_at = out, time.time()
        out.add("llm_exporter_build_info", 1.0, {"version": __version__, "python_version": PYTHON_VERSION})
        out.add("llm_exporter_config_last_reload_successful", 1.0 if reload_ok else 0.0)
        out.add("llm_exporter_config_last_reload_success_timestamp_seconds", reload_at)
        return out, (generation, reload_ok, reload_at, collection.key)

    def exposition(self, timeout: float, openmetrics: bool = False, gzipped: bool = False) -> bytes:
        """The rendered ``/metrics`` body, rendered (and compressed) once per collection.

        Scrapes served the same reads (single flight, ``min_interval``) get the bytes
        rendered for the first of them.
        """
        metrics, key = self._collect(timeout)
        with self._render_lock:
            if key == self._rendered_key:
                body = self._rendered.get((openmetrics, gzipped))
                if body is not None:
                    return body
        body = exposition.render(metrics, openmetrics)
        if gzipped:
            import gzip  # only once a client asks for it

            body = gzip.compress(body, compresslevel=5)
        with self._render_lock:
            if key != self._rendered_key:
                self._rendered_key, self._rendered = key, {}
            self._rendered[(openmetrics, gzipped)] = body
        return body

    def close(self) -> None:
        with self._lock:
            self.engine.close()
