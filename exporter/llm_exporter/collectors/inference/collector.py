"""One collector per configured inference target: read, detect, normalise."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ...config import InferenceTarget
from ...counters import CounterFolder, RejectedSamples
from ...metricset import MetricSet
from ...promtext import ParseCache, Parser, Snapshot
from ...scrape import Deadline, TargetDown
from ..base import BaseCollector
from ..httpread import Session, get_json, join, new_session
from . import litellm, ollama
from .engines import CANDIDATES, ENGINES, JSON_APIS
from .http import fetch_metrics
from .litellm_agents import AgentUsage
from .litellm_agents import families as agent_families
from .mapping import Engine, model_of, normalise

log = logging.getLogger(__name__)

META_INTERVAL = 300.0
MAX_MODELS = 1000


@dataclass
class _Meta:
    at: float = -1e18
    version: str = ""
    models: dict[str, dict[str, str]] = field(default_factory=dict)


class InferenceCollector(BaseCollector[InferenceTarget]):
    """Reads one inference server and emits the normalised ``llm_`` metrics."""

    name = "inference"

    def __init__(self, config: InferenceTarget) -> None:
        super().__init__(config, key=f"inference/{config.name}", target=config.name)
        self._session: Session | None = None
        self._folder = CounterFolder()
        self._parse_cache = ParseCache()  # label blocks seen in earlier scrapes of this target
        self._rejected = RejectedSamples(self.config.name, log)
        self._detected: str | None = None  # engine kind found by server: auto
        self._meta = _Meta()
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        agents = self.config.agents
        self._agents = AgentUsage(agents, self.config.name) if agents is not None else None

    # -- plumbing ---------------------------------------------------------------------
    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = new_session()
        return self._session

    def _headers(self) -> dict[str, str]:
        token = self.config.bearer_token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _json(self, path: str, deadline: Deadline, cap: float) -> Any:
        """GET a JSON document of this target (its credentials and redirect policy)."""
        cfg = self.config
        return get_json(
            self.session, join(cfg.url, path), deadline, cap=cap, headers=self._headers(), redirects=cfg.redirects
        )

    def _cap(self) -> float:
        return self.config.timeout

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def _warn(self, messages: list[str]) -> None:
        fresh = [m for m in messages if m not in self._warned]
        for m in fresh:
            log.warning("target %s: %s", self.config.name, m)
        self._warned = set(messages)

    # -- collection -------------------------------------------------------------------
    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        if not self._lock.acquire(timeout=deadline.remaining()):
            raise TargetDown("the previous read of this target is still running")
        try:
            server = self.config.server
            if server == "auto":
                self._collect_auto(out, deadline)
            else:
                self._collect_as(server, out, deadline)
        finally:
            self._lock.release()

    def _collect_as(self, kind: str, out: MetricSet, deadline: Deadline, snap: Snapshot | None = None) -> None:
        engine = ENGINES[kind]
        if engine.rules:
            if snap is None:
                snap = self._scrape(deadline, [engine])
            self._normalise(engine, snap, out, deadline)
        elif kind == "ollama":
            self._collect_ollama(out, deadline)
        else:
            self._collect_openai(out, deadline)

    def _scrape(self, deadline: Deadline, engines: list[Engine]) -> Snapshot:
        scalars: set[str] = set()
        hists: set[str] = set()
        for e in engines:
            scalars |= e.scalar_names()
            hists |= e.histogram_names()
        if self._agents is not None:
            scalars |= agent_families()
        cfg = self.config
        parser = Parser(
            scalars,
            hists,
            max_samples=cfg.max_samples,
            max_bytes=cfg.max_body_bytes,
            max_family_series=cfg.max_series,
            cache=self._parse_cache,
        )
        url = join(self.config.url, self.config.metrics_path)
        return fetch_metrics(
            self.session,
            url,
            deadline,
            cap=self._cap(),
            headers=self._headers(),
            parser=parser,
            redirects=cfg.redirects,
        )

    def _normalise(self, engine: Engine, snap: Snapshot, out: MetricSet, deadline: Deadline) -> None:
        self._refresh_meta(engine, deadline, need_model=not engine.model_labels and not self.config.model)
        default_model = self.config.model or next(iter(self._meta.models), "") or "unknown"
        if engine.server == "litellm":
            litellm.drop_own_scrapes(snap)
            if self._agents is not None:
                self._agents.emit(snap, out, lambda labels: model_of(labels, engine, default_model))
        cfg = self.config
        res = normalise(engine, snap, out, cfg.name, default_model, self._folder, max_models=cfg.max_models)
        self._rejected.note(res.rejected)
        warnings = list(res.warnings)
        if snap.duplicates:
            warnings.append(f"{snap.duplicates} duplicate series in the body (first value kept)")
        models = set(res.models)
        if not engine.model_labels:
            models.add(default_model)
        for model in sorted(models):
            extra = self._meta.models.get(model, {})
            out.add("llm_model_info", 1.0, {"target": cfg.name, "server": engine.server, "model": model, **extra})
        over_series = out.limit(cfg.max_series)
        # Unread upstream series, series of models over the cap (and their llm_model_info), the rest.
        dropped = snap.skipped + res.dropped_series + len(res.dropped_models) + over_series
        if res.dropped_models:
            warnings.append(
                f"more than max_models={cfg.max_models} models: the others are not exported "
                f"(e.g. {min(res.dropped_models)[:80]!r}; see llm_target_dropped_series)"
            )
        if over_series or snap.skipped:
            warnings.append(
                f"more than max_series={cfg.max_series} series: the rest is not exported (see llm_target_dropped_series)"
            )
        self._warn(warnings)
        self._target_info(out, engine.server, dropped)

    def _target_info(self, out: MetricSet, server: str, dropped: int = 0) -> None:
        """The target's own series (identity, rejected samples, dropped series): outside max_series."""
        out.add(
            "llm_target_info",
            1.0,
            {"target": self.config.name, "kind": "inference", "software": server, "version": self._meta.version},
        )
        out.add("llm_target_dropped_series", float(dropped), {"target": self.config.name})
        for reason, n in self._rejected.counts().items():
            out.add("llm_upstream_rejected_samples_total", float(n), {"target": self.config.name, "reason": reason})

    # -- server: auto -------------------------------------------------------------------
    def _collect_auto(self, out: MetricSet, deadline: Deadline) -> None:
        if self._detected is not None:
            try:
                self._collect_as(self._detected, out, deadline)
                return
            except TargetDown:
                self._detected = None  # re-detect on the next scrape (the server may have changed)
                raise
        self._detect_and_collect(out, deadline)

    def _detect_and_collect(self, out: MetricSet, deadline: Deadline) -> None:
        try:
            snap = self._scrape(deadline, list(CANDIDATES))
        except TargetDown as exc:
            metrics_error = exc
        else:
            best, hits = None, 0
            for e in CANDIDATES:
                h = e.hits(snap)
                if h > hits:
                    best, hits = e, h
            if best is not None:
                self._detected = best.kind
                log.info("target %s: detected %s", self.config.name, self._detected)
                self._collect_as(best.kind, out, deadline, snap=snap)
                return
            metrics_error = TargetDown("no known inference-server metrics on the metrics endpoint")
        # No Prometheus endpoint: the JSON APIs in table order (Ollama, then any OpenAI-compatible API).
        for kind in JSON_APIS:
            try:
                self._collect_as(kind, out, deadline)
            except TargetDown:
                continue
            self._detected = kind
            log.info("target %s: detected %s", self.config.name, kind)
            return
        raise metrics_error

    # -- metadata (version, model names) -----------------------------------------------
    def _refresh_meta(self, engine: Engine, deadline: Deadline, need_model: bool) -> None:
        now = time.monotonic()
        if now - self._meta.at < META_INTERVAL and (self._meta.models or not need_model):
            return
        self._meta.at = now
        cap = min(self._cap(), 2.0)
        if engine.version_path:
            doc = self._try_json(engine.version_path, deadline, cap)
            if isinstance(doc, dict) and doc.get(engine.version_key) is not None:
                self._meta.version = str(doc[engine.version_key])[:100]
        if engine.models_path:
            doc = self._try_json(engine.models_path, deadline, cap)
            models = _models_of(doc)
            if models:
                self._meta.models = models

    def _try_json(self, path: str, deadline: Deadline, cap: float) -> Any:
        if deadline.remaining() < 0.2:
            return None
        try:
            return self._json(path, deadline, cap)
        except TargetDown as exc:
            log.debug("target %s: %s", self.config.name, exc)
            return None

    # -- JSON-only servers ----------------------------------------------------------------
    def _collect_ollama(self, out: MetricSet, deadline: Deadline) -> None:
        cap = self._cap()
        version = self._json("/api/version", deadline, cap)
        if not isinstance(version, dict) or "version" not in version:
            raise TargetDown("/api/version did not return {'version': ...}: not Ollama")
        doc = self._json("/api/ps", deadline, cap)
        ollama.emit_ps(doc, out, self.config.name)
        self._meta.version = str(version["version"])[:100]
        self._target_info(out, "ollama")

    def _collect_openai(self, out: MetricSet, deadline: Deadline) -> None:
        doc = self._json("/v1/models", deadline, self._cap())
        models = _models_of(doc)
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise TargetDown("/v1/models did not return an OpenAI model list")
        for model, extra in models.items():
            out.add("llm_model_info", 1.0, {"target": self.config.name, "server": "openai", "model": model, **extra})
        self._target_info(out, "openai")


def _models_of(doc: Any) -> dict[str, dict[str, str]]:
    """Model names (and what is known of them) from ``/v1/models`` or TGI's ``/info``."""
    out: dict[str, dict[str, str]] = {}
    if not isinstance(doc, dict):
        return out
    if isinstance(doc.get("model_id"), str):  # TGI /info
        extra = {}
        if isinstance(doc.get("max_total_tokens"), int):
            extra["max_model_len"] = str(doc["max_total_tokens"])
        out[doc["model_id"]] = extra
        return out
    data = doc.get("data")
    if not isinstance(data, list):
        return out
    for item in data[:MAX_MODELS]:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            extra = {}
            if isinstance(item.get("max_model_len"), int):
                extra["max_model_len"] = str(item["max_model_len"])
            out[item["id"]] = extra
    return out
