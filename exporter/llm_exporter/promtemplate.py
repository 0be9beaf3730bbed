"""Reading a body whose shape was seen before: only the values are new.

An inference server exposes the same lines scrape after scrape; only the value at the end
of each sample line changes. Cutting a body at every ``" <value>\\n"`` (one C-level regex
split) gives its *shape* (all the text but the values, hashed) and its values. Once two
bodies in a row of one target had the same shape and the careful parser read one of them,
a ``Template`` records where each wanted value goes (its family, label set and bucket). A
later body of the same shape is then read by floating its wanted values and pouring them
into fresh dicts in that order: no per-line Python work, and unwanted lines cost nothing
beyond the split.

Safety: the shape covers every byte but the last token of each line, comments included
(their last word is compared as well), so a body of the same shape and different values is
exactly a body the careful parser would read the same way, value for value. A template is
kept only if, built from a body, it gives that body's snapshot exactly (``repr``-equal),
and only for lines that are ``name{labels} value`` with nothing after the value (a
timestamp or an exemplar makes the shape change every scrape, so such bodies stay on the
careful path). Bodies that are not ASCII are decoded once to check they are UTF-8; the
values of repeated wanted lines, which the line parser reads and then drops, are checked to
be numbers too. Values that do not parse, over-long lines and any other surprise fall back to
the careful parser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import islice
from operator import itemgetter
from typing import TYPE_CHECKING

from .promlabels import LabelKey, PromTextError, split_le
from .promsnap import BucketColumns, HistSeries, Snapshot

if TYPE_CHECKING:
    from .promtext import Parser

# " <value>\n": a line's last token; the text between two of them is a piece of the shape.
_LAST_TOKEN = re.compile(rb" ([^ \n]*)\n")

# What ``Template`` pours values into, in order: a scalar family's label sets; a histogram
# family's series as (label set, bucket bounds, has a sum, has a count).
ScalarPlan = tuple[str, tuple[LabelKey, ...]]
HistPlan = tuple[str, list[tuple[LabelKey, tuple[float, ...], bool, bool]]]


def split(body: bytes) -> list[bytes] | None:
    """Pieces and last tokens, alternating (``[piece, token, piece, ..., piece]``), or None
    when the body does not end with a newline (its last line has no token to cut)."""
    if not body.endswith(b"\n"):
        return None
    return _LAST_TOKEN.split(body)


def shape_of(parts: Sequence[bytes]) -> int:
    """A hash of everything but the last tokens: of the tuple of pieces, in order.

    Each piece is hashed with Python's keyed 64-bit string hash and the tuple hash mixes
    them in order (no joined copy of the body is made): two shapes of one target colliding
    is a 2**-64 event, and an upstream cannot aim for it (the key is per process), nor
    would it gain anything it could not get by writing other values.
    """
    return hash(tuple(parts[0::2]))


def _getter(indexes: list[int]) -> Callable[[Sequence[bytes]], tuple[bytes, ...]]:
    """``itemgetter`` that always returns a tuple (it returns a bare item for one index)."""
    if not indexes:
        return lambda parts: ()
    if len(indexes) == 1:
        i = indexes[0]
        return lambda parts: (parts[i],)
    return itemgetter(*indexes)


class Template:
    """Where each wanted value of a body of one shape goes; see the module docstring."""

    def __init__(
        self,
        shape: int,
        nparts: int,
        values: list[int],
        checks: list[int],
        comments: list[int],
        parts: Sequence[bytes],
        scalars: list[ScalarPlan],
        histograms: list[HistPlan],
        snap: Snapshot,
        max_line: int,
    ) -> None:
        self.shape = shape
        self.nparts = nparts
        self._values = _getter(values)
        self._checks = _getter(checks) if checks else None  # values only checked to be numbers
        self._comments = _getter(comments)
        self._comment_text = self._comments(parts)
        self._scalars = scalars
        self._histograms = histograms
        self._types = dict(snap.types)
        self._counts = (snap.samples, snap.duplicates, snap.skipped, snap.openmetrics_eof)
        # The longest line without its last token: with the longest token, a bound on every line.
        self._longest_piece_line = max((len(x) for p in parts[0::2] for x in p.split(b"\n")), default=0)
        self._max_line = max_line

    def read(self, body: bytes, parts: Sequence[bytes], lines_checked: bool = False) -> Snapshot | None:
        """The snapshot of ``body`` (split into ``parts``), or None if it does not fit.

        ``lines_checked``: the caller already knows no line is longer than ``max_line``.
        """
        if len(parts) != self.nparts or self._comments(parts) != self._comment_text:
            return None
        if shape_of(parts) != self.shape:
            return None
        if not lines_checked and self._longest_piece_line + 1 + max(map(len, parts[1::2]), default=0) > self._max_line:
            return None  # maybe a line over the limit: let the careful parser say which
        if not body.isascii():
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                return None
        try:
            return self.fill(parts)
        except ValueError:  # a value that is not a number
            return None

    def fill(self, parts: Sequence[bytes]) -> Snapshot:
        """Pour the wanted values of ``parts`` into a fresh snapshot (ValueError on a bad value)."""
        if self._checks is not None:
            for _ in map(float, self._checks(parts)):
                pass
        values = map(float, self._values(parts))
        samples, duplicates, skipped, eof = self._counts
        snap = Snapshot(
            types=dict(self._types), samples=samples, duplicates=duplicates, skipped=skipped, openmetrics_eof=eof
        )
        scalars = snap.scalars
        for key, label_sets in self._scalars:
            # zip stops at the end of label_sets without taking one more value.
            scalars[key] = dict(zip(label_sets, values, strict=False))
        histograms = snap.histograms
        for base, series in self._histograms:
            family = histograms[base] = {}
            for labels, bounds, has_sum, has_count in series:
                buckets = BucketColumns(bounds, list(islice(values, len(bounds))))
                total = next(values) if has_sum else None
                family[labels] = HistSeries(buckets, total, next(values) if has_count else None)
        return snap


def learn(parser: Parser, parts: Sequence[bytes], shape: int, snap: Snapshot) -> Template | None:
    """A template for bodies shaped like the one ``parser`` just read into ``snap``, or None."""
    where = _locate(parser, parts)
    if where is None:
        return None
    scalar_at, hist_at, comments, wanted = where
    values: list[int] = []
    scalars: list[ScalarPlan] = []
    histograms: list[HistPlan] = []
    try:
        for key, series in snap.scalars.items():
            label_sets = tuple(series)
            values.extend(scalar_at[key, labels] for labels in label_sets)
            scalars.append((key, label_sets))
        for base, family in snap.histograms.items():
            plan = []
            for labels, hs in family.items():
                at = hist_at[base, labels]
                bounds = tuple(hs.buckets)
                values.extend(at[bound] for bound in bounds)
                if hs.sum is not None:
                    values.append(at["sum"])
                if hs.count is not None:
                    values.append(at["count"])
                plan.append((labels, bounds, hs.sum is not None, hs.count is not None))
            histograms.append((base, plan))
    except KeyError:
        return None
    # The line parser floats every wanted line's value, repeated and over-the-cap lines
    # too (a bad one is an error): the template floats theirs as well, and drops them.
    used = set(values)
    checks = [k for k in wanted if k not in used]
    template = Template(shape, len(parts), values, checks, comments, parts, scalars, histograms, snap, parser.max_line)
    try:
        same = repr(template.fill(parts)) == repr(snap)
    except ValueError:
        same = False
    return template if same else None


def _locate(
    parser: Parser, parts: Sequence[bytes]
) -> tuple[dict[tuple[str, LabelKey], int], dict[tuple[str, LabelKey], dict[object, int]], list[int], list[int]] | None:
    """Where (which part) each wanted series' value is, first occurrence first, the comments,
    and every wanted line's value; None if a wanted line is not plain ``name{labels} value``."""
    names = parser.names
    scalar_at: dict[tuple[str, LabelKey], int] = {}
    hist_at: dict[tuple[str, LabelKey], dict[object, int]] = {}
    comments: list[int] = []
    wanted: list[int] = []
    for k in range(1, len(parts), 2):
        piece = parts[k - 1]
        start = piece.rfind(b"\n") + 1
        if start == len(piece) or piece[start] == 0x23:  # '#': a comment (compared whole)
            comments.append(k)
            continue
        try:
            line = piece[start:].decode("utf-8")
        except UnicodeDecodeError:
            return None
        br = line.find("{")
        hit = names.get(line[:br] if br > 0 else line)
        if hit is None:
            return None
        kind = hit[0]
        if kind == 0:
            continue
        wanted.append(k)
        labels: LabelKey = ()
        if br > 0:
            try:
                labels, end, _ = parser.labels_at(line, br)
            except PromTextError:
                return None
            if end != len(line):
                return None
        if kind in (1, 3):
            scalar_at.setdefault((hit[1], labels), k)
        if kind in (2, 3):
            base, suffix = (hit[3] if kind == 3 else hit[1]), hit[2]
            slot: object = suffix
            if suffix == "bucket":
                try:
                    labels, slot = split_le(labels, 0)
                except PromTextError:
                    return None
            hist_at.setdefault((base, labels), {}).setdefault(slot, k)
    return scalar_at, hist_at, comments, wanted
