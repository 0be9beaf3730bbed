"""The shape of a catalog entry (``MetricSpec``), the helper that writes one, the label sets
the areas share, and ``Catalog``, the lookup over all of them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

MetricType = Literal["gauge", "counter", "histogram"]

GROUPS = ("exporter", "target", "inference", "probe", "process", "gpu", "queue", "agent", "cost")


@dataclass(frozen=True)
class MetricSpec:
    """One exported metric family.

    ``labels`` are the labels every series carries, in order. ``extra_labels`` allows
    further identity labels (only for ``_info`` metrics). ``unit`` is the base unit the
    name ends with (empty for dimensionless counts). ``group`` says which collector
    family emits it and selects its section in the README table.
    """

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""
    group: str = "exporter"
    extra_labels: bool = False
    opt_in: bool = False

    @property
    def is_info(self) -> bool:
        return self.name.endswith("_info")


def metric(
    group: str,
    name: str,
    type_: MetricType,
    help_: str,
    labels: Iterable[str] = (),
    unit: str = "",
    *,
    extra: bool = False,
    opt_in: bool = False,
) -> MetricSpec:
    """One catalog entry, written in the order the area modules read best."""
    return MetricSpec(name, type_, help_, tuple(labels), unit, group, extra, opt_in)


T = ("target",)
TM = ("target", "model")
TAM = ("target", "agent", "model")
G = ("gpu", "uuid")
Q = ("backend", "target", "queue", "group")


class Catalog:
    """Lookup over the metric specs; iteration keeps declaration order."""

    def __init__(self, specs: Iterable[MetricSpec]) -> None:
        self._specs: dict[str, MetricSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"duplicate metric in catalog: {spec.name}")
            self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> MetricSpec:
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[MetricSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return list(self._specs)

    def group(self, group: str) -> list[MetricSpec]:
        return [s for s in self._specs.values() if s.group == group]

    def series_names(self) -> set[str]:
        """Every sample name that can appear in the exposition (``_bucket``, ``_sum`` ... included)."""
        out: set[str] = set()
        for spec in self._specs.values():
            if spec.type == "histogram":
                out.update(spec.name + s for s in ("_bucket", "_sum", "_count"))
            else:
                out.add(spec.name)
        return out
