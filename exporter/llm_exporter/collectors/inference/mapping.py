"""Declarative engine tables and the normaliser that applies them to a parsed body.

An engine is an ``Engine``: the labels that carry the model name, and ``Rule``s from
upstream families (every known spelling and version) to catalog metrics. A rule lists
alternatives; the first alternative present in the body wins (newest name first), and
an alternative may be a tuple of sources that are added (llama.cpp's prompt tokens are
``prompt_tokens_total + prompt_tokens_cached_total``). Rules of the same metric add up
(vLLM's finish reasons plus its admission rejections).

Every upstream label other than the model (vLLM ``engine``, SGLang ranks and
``is_streaming``, Ray ``ReplicaId``, LiteLLM key/team labels) is folded: gauges by
``agg`` (sum or mean), counters and histograms by sum. Folded counters go through a
``CounterFolder`` so that one engine core restarting (its counters going back to 0) never
makes the exported sum go backwards; the exported counters are monotonic for the life of
the exporter and equal the upstream sums as long as no upstream series resets.

Bad upstream samples are dropped for the scrape and reported in ``Result.rejected``
(family, reason): a NaN, infinite or negative counter (or histogram bucket, sum or count),
a non-finite gauge, and a ratio gauge outside 0-1. A counter whose every source was
rejected keeps its last exported value, so the series neither gaps nor goes back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from ...catalog import CATALOG
from ...counters import CounterFolder, Key, counter_reject_reason, reject_reason
from ...metricset import MetricSet
from ...promtext import HistSeries, LabelKey, Snapshot, canonical
from .histograms import SourceId, emit_histogram

# prometheus_client's default collectors (single-process engines): not about inference.
PYTHON_RUNTIME = ("python_gc_*", "python_info", "process_*")

_INF = math.inf

FINISH_REASONS = ("stop", "length", "abort", "error", "rejected", "unknown")


OutKey = tuple[str, LabelKey]  # (catalog metric, exported labels)
HistParts = dict[OutKey, list[tuple[SourceId, HistSeries, float]]]


@dataclass(frozen=True)
class Src:
    """One upstream family: sample name (or histogram base), label filter, unit scale."""

    name: str
    where: tuple[tuple[str, str], ...] = ()
    scale: float = 1.0

    @cached_property
    def key(self) -> str:
        return canonical(self.name)

    def matches(self, labels: LabelKey) -> bool:
        if not self.where:
            return True
        d = dict(labels)
        return all(d.get(k) == v for k, v in self.where)


Alternative = tuple[Src, ...]


def src(name: str, scale: float = 1.0, **where: str) -> Src:
    return Src(name, tuple(sorted(where.items())), scale)


@dataclass(frozen=True)
class Rule:
    """Catalog ``metric`` from the first present alternative.

    ``reason`` fixes ``finish_reason``; ``reason_label`` + ``reason_map`` translate an
    upstream label (unmapped values become ``unknown``; a callable may be given).
    ``agg`` folds gauges: ``sum`` or ``mean``. ``keep`` lists (upstream label, catalog label)
    pairs carried over instead of folded (vLLM ``reason``, ``engine``); a series lacking one
    of them is skipped.
    """

    metric: str
    alternatives: tuple[Alternative, ...]
    agg: str = "sum"
    reason: str | None = None
    reason_label: str | None = None
    reason_map: Mapping[str, str] | Callable[[str], str] | None = None
    keep: tuple[tuple[str, str], ...] = ()


def one(metric: str, *names: str, prefix: str = "", agg: str = "sum", keep: tuple[tuple[str, str], ...] = ()) -> Rule:
    """The common rule: ``metric`` from the first present of ``names`` (single families, with ``prefix``)."""
    return Rule(metric, tuple((src(prefix + n),) for n in names), agg=agg, keep=keep)


@dataclass(frozen=True)
class LoraInfoRule:
    """vLLM ``lora_requests_info``: comma lists of adapters in labels, value = when last set.

    The newest series (highest value) is the current state: ``llm_lora_adapters{state}``
    counts its distinct running / waiting adapters, ``llm_lora_adapters_max`` is ``max_lora``.
    No adapter name becomes a label, so the series stay bounded.
    """

    src: Src
    metric: str = "llm_lora_adapters"


@dataclass(frozen=True)
class SumCountRule:
    """A histogram with only the +Inf bucket from two cumulative counters (Triton µs counters)."""

    metric: str
    sum: Src
    count: Alternative


@dataclass(frozen=True)
class Engine:
    """One inference server's table: the single source of truth for that engine.

    ``server`` is the ``server`` label value; ``kind`` the config's ``server:`` value (defaults
    to ``server``; Ray Serve's vLLM spelling is kind ``ray_vllm``, server ``vllm``). ``rules``
    map a Prometheus endpoint; a table without rules is read through its JSON API (Ollama,
    OpenAI-compatible). ``ignored``: upstream families (names or ``fnmatch`` patterns)
    deliberately not mapped; every family a real server exposes is either read by a rule or
    listed here (``drift``). ``title``, ``notes`` (catalog metric -> support-matrix cell) and
    ``proof`` (how the suite checks the table) make the README support matrix.
    """

    server: str
    model_labels: tuple[str, ...]
    rules: tuple[Rule | SumCountRule | LoraInfoRule, ...]
    default_port: int = 0
    version_path: str | None = None
    version_key: str = "version"
    models_path: str | None = None
    ignored: tuple[str, ...] = ()
    kind: str = ""
    title: str = ""
    notes: Mapping[str, str] = field(default_factory=dict)
    proof: str = "payload fixtures"

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", self.server)
        if not self.title:
            object.__setattr__(self, "title", self.server)

    @property
    def metrics(self) -> set[str]:
        """Catalog metrics the rules produce."""
        out = {r.metric for r in self.rules}
        if any(isinstance(r, LoraInfoRule) for r in self.rules):
            out.add("llm_lora_adapters_max")
        return out

    def scalar_names(self) -> set[str]:
        out: set[str] = set()
        for r in self.rules:
            if isinstance(r, SumCountRule):
                out.add(r.sum.name)
                out.update(s.name for s in r.count)
            elif isinstance(r, LoraInfoRule):
                out.add(r.src.name)
            elif CATALOG[r.metric].type != "histogram":
                out.update(s.name for alt in r.alternatives for s in alt)
        return out

    def histogram_names(self) -> set[str]:
        return {
            s.name
            for r in self.rules
            if isinstance(r, Rule) and CATALOG[r.metric].type == "histogram"
            for alt in r.alternatives
            for s in alt
        }

    def hits(self, snap: Snapshot) -> int:
        """How many rules find data in ``snap`` (used by ``server: auto``)."""
        n = 0
        for r in self.rules:
            if isinstance(r, SumCountRule):
                n += r.sum.key in snap.scalars
            elif isinstance(r, LoraInfoRule):
                continue
            elif any(_present(alt, snap, CATALOG[r.metric].type == "histogram") for alt in r.alternatives):
                n += 1
        return n


def rename(engine: Engine, old_prefix: str, new_prefix: str, **changes: Any) -> Engine:
    """The same table under another name prefix (Ray Serve's ``ray_vllm_`` spelling of vLLM).

    ``changes`` replace other fields (``kind``, ``title``, ``default_port`` ...).
    """

    def fix(s: Src) -> Src:
        key = s.key
        name = new_prefix + key[len(old_prefix) :] if key.startswith(old_prefix) else key
        return Src(name, s.where, s.scale)

    rules: list[Rule | SumCountRule | LoraInfoRule] = []
    for r in engine.rules:
        if isinstance(r, SumCountRule):
            rules.append(replace(r, sum=fix(r.sum), count=tuple(fix(s) for s in r.count)))
        elif isinstance(r, LoraInfoRule):
            rules.append(replace(r, src=fix(r.src)))
        else:
            rules.append(replace(r, alternatives=tuple(tuple(fix(s) for s in alt) for alt in r.alternatives)))
    ignored = tuple(fix(src(p)).name for p in engine.ignored)
    return replace(engine, rules=tuple(rules), ignored=ignored, **changes)


def _present(alt: Alternative, snap: Snapshot, hist: bool) -> bool:
    table = snap.histograms if hist else snap.scalars
    for s in alt:
        series = table.get(s.key)
        if not series or not any(s.matches(k) for k in series):
            return False
    return True


@dataclass
class Result:
    """What one normalisation produced besides the samples."""

    models: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (upstream family, reason)
    dropped_models: set[str] = field(default_factory=set)  # over max_models: not exported
    dropped_series: int = 0
    _rejected_seen: set[tuple[str, LabelKey]] = field(default_factory=set)

    def reject(self, key: str, labels: LabelKey, why: str) -> None:
        """Count a bad upstream sample once, however many rules read it."""
        if (key, labels) not in self._rejected_seen:
            self._rejected_seen.add((key, labels))
            self.rejected.append((key, why))


def model_of(labels: LabelKey, engine: Engine, default: str) -> str:
    """The model a series belongs to: the first of the engine's model labels set, else ``default``."""
    return _model(labels, engine, default)


def _model(labels: LabelKey, engine: Engine, default: str) -> str:
    d = dict(labels)
    for name in engine.model_labels:
        v = d.get(name)
        if v and v != "None":
            return v
    return default


def _reason(rule: Rule, labels: LabelKey) -> str:
    if rule.reason is not None:
        return rule.reason
    if rule.reason_label is None:
        return "unknown"
    raw = dict(labels).get(rule.reason_label, "")
    if callable(rule.reason_map):
        return rule.reason_map(raw)
    if rule.reason_map is None:
        return raw if raw in FINISH_REASONS else "unknown"
    return rule.reason_map.get(raw, "unknown")


def normalise(
    engine: Engine,
    snap: Snapshot,
    out: MetricSet,
    target: str,
    default_model: str,
    folder: CounterFolder,
    max_models: int = 1_000_000,
) -> Result:
    """Apply ``engine``'s table to ``snap`` and add the catalog samples to ``out``.

    Models beyond the first ``max_models`` seen are not exported (``Result.dropped_models``,
    and ``dropped_series`` counts their distinct output series).
    """
    res = Result()
    dropped: set[tuple[str, str]] = set()

    def admit(metric: str, model: str) -> bool:
        if model in res.models:
            return True
        if len(res.models) >= max_models:
            res.dropped_models.add(model)
            dropped.add((metric, model))
            return False
        res.models.add(model)
        return True

    folder.begin()
    gauges: dict[OutKey, list[float]] = {}
    gauge_agg: dict[str, str] = {}
    counters: dict[OutKey, dict[Key, float]] = {}
    hists: HistParts = {}
    held: set[OutKey] = set()

    # The same upstream label sets recur in every family: their model (and the exported
    # target/model labels of each model) are worked out once per scrape.
    model_by_labels: dict[LabelKey, str] = {}
    base_by_model: dict[str, LabelKey] = {}

    for rule in engine.rules:
        if isinstance(rule, SumCountRule):
            _sum_count(rule, snap, engine, target, default_model, hists, admit)
            continue
        if isinstance(rule, LoraInfoRule):
            continue  # after the others: it has no model label of its own
        metric = rule.metric
        mtype = CATALOG[metric].type
        alt = next((a for a in rule.alternatives if _present(a, snap, mtype == "histogram")), None)
        if alt is None:
            continue
        ratio = CATALOG[metric].unit == "ratio"
        reasons = metric == "llm_requests_total"
        for s in alt:
            table: Mapping[LabelKey, HistSeries | float] = (
                snap.histograms[s.key] if mtype == "histogram" else snap.scalars[s.key]
            )
            scale, skey, where = s.scale, s.key, s.where
            for labels, value in table.items():
                if where and not s.matches(labels):
                    continue
                model = model_by_labels.get(labels)
                if model is None:
                    model = model_by_labels[labels] = _model(labels, engine, default_model)
                if model not in res.models and not admit(metric, model):
                    continue
                out_labels = base_by_model.get(model)
                if out_labels is None:
                    out_labels = base_by_model[model] = (("target", target), ("model", model))
                if reasons:
                    out_labels += (("finish_reason", _reason(rule, labels)),)
                if rule.keep:
                    kept = dict(labels)
                    if any(up not in kept for up, _ in rule.keep):
                        continue
                    out_labels += tuple((name, kept[up]) for up, name in rule.keep)
                okey: OutKey = (metric, out_labels)
                if isinstance(value, HistSeries):  # the histogram table
                    parts = hists.get(okey)
                    if parts is None:
                        parts = hists[okey] = []
                    parts.append(((metric, skey, labels), value, scale))
                elif mtype == "counter":
                    if 0.0 <= value < _INF:  # valid (else counter_reject_reason says why)
                        sources = counters.get(okey)
                        if sources is None:
                            sources = counters[okey] = {}
                        sources[(metric, skey, labels)] = value * scale
                    else:
                        res.reject(skey, labels, counter_reject_reason(value) or "nan")
                        held.add(okey)
                else:
                    gauge_agg[metric] = rule.agg
                    value *= scale
                    # Finite (NaN fails both comparisons) and, for a ratio, within 0-1; else reject_reason says why.
                    if (0.0 <= value <= 1.0) if ratio else (-_INF < value < _INF):
                        values = gauges.get(okey)
                        if values is None:
                            gauges[okey] = [value]
                        else:
                            values.append(value)
                    else:
                        res.reject(skey, labels, reject_reason(value, ratio=ratio) or "nan")

    for okey in held - counters.keys():
        if folder.held(okey) is not None:  # every source rejected: keep the last exported value
            counters[okey] = {}
    for (metric, labels), values in gauges.items():
        agg = gauge_agg.get(metric, "sum")
        v = sum(values) / len(values) if agg == "mean" else max(values) if agg == "max" else sum(values)
        out.add_key(metric, labels, v)
    for (metric, labels), sources in counters.items():
        out.add_key(metric, labels, folder.update((metric, labels), sources))
    for (metric, labels), parts in hists.items():
        emit_histogram(metric, labels, parts, out, folder, res.reject, res.warnings.append)
    res.dropped_series = len(dropped)
    for rule in engine.rules:
        if isinstance(rule, LoraInfoRule):
            only = next(iter(res.models)) if len(res.models) == 1 else default_model
            _lora(rule, snap, out, target, only)
    # Pre-create the engine's other finish reasons at 0 for models that report outcomes.
    with_outcomes = {labels[1][1] for metric, labels in counters if metric == "llm_requests_total"}
    if with_outcomes:
        reasons_of_engine = _reasons_of(engine)
        for model in with_outcomes:
            for reason in reasons_of_engine:
                key = (("target", target), ("model", model), ("finish_reason", reason))
                if out.get_key("llm_requests_total", key) is None:
                    out.add_key("llm_requests_total", key, 0.0)
    return res


def _lora(rule: LoraInfoRule, snap: Snapshot, out: MetricSet, target: str, model: str) -> None:
    series = [(v, labels) for labels, v in snap.scalars.get(rule.src.key, {}).items() if math.isfinite(v)]
    if not series:
        return
    _, newest = max(series, key=lambda x: x[0])
    d = dict(newest)
    lab = {"target": target, "model": model}
    for state in ("running", "waiting"):
        adapters = {a.strip() for a in d.get(f"{state}_lora_adapters", "").split(",") if a.strip()}
        out.add(rule.metric, float(len(adapters)), {**lab, "state": state})
    try:
        max_lora = float(d.get("max_lora", ""))
    except ValueError:
        return
    if math.isfinite(max_lora) and max_lora >= 0:
        out.add("llm_lora_adapters_max", max_lora, lab)


def _reasons_of(engine: Engine) -> list[str]:
    """The finish reasons an engine can report (pre-created at 0)."""
    out: list[str] = []
    for r in engine.rules:
        if not isinstance(r, Rule) or r.metric != "llm_requests_total":
            continue
        if r.reason is not None:
            vals: Iterable[str] = (r.reason,)
        elif isinstance(r.reason_map, Mapping):
            vals = r.reason_map.values()
        else:
            vals = ()
        out.extend(v for v in vals if v not in out)
    return out


def _sum_count(
    rule: SumCountRule,
    snap: Snapshot,
    engine: Engine,
    target: str,
    default_model: str,
    hists: HistParts,
    admit: Callable[[str, str], bool],
) -> None:
    sums = snap.scalars.get(rule.sum.key)
    if not sums:
        return
    counts: dict[str, float] = {}
    for s in rule.count:
        for labels, value in snap.scalars.get(s.key, {}).items():
            if s.matches(labels):
                m = _model(labels, engine, default_model)
                counts[m] = counts.get(m, 0.0) + value
    for labels, value in sums.items():
        if not rule.sum.matches(labels):
            continue
        model = _model(labels, engine, default_model)
        if model not in counts or not admit(rule.metric, model):
            continue
        hs = HistSeries({math.inf: counts.pop(model)}, value, None)
        okey = (rule.metric, (("target", target), ("model", model)))
        hists.setdefault(okey, []).append(((rule.metric, rule.sum.key, labels), hs, rule.sum.scale))
