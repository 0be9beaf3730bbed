"""Fast, bounded, streaming parser of Prometheus text 0.0.4 and OpenMetrics bodies.

Only the families a mapping asks for are materialised: every other sample line costs a
name lookup and nothing else. Names are compared in a canonical spelling with ``:``
replaced by ``_``, so ``vllm:kv_cache_usage_perc`` and the ``vllm_kv_cache_usage_perc``
that prometheus_client writes under OpenMetrics negotiation (client_python issue 1177)
are the same family.

Handled quirks: colons in names, ``_created`` samples (ignored unless asked for), any order
of ``_bucket``/``_sum``/``_count`` lines and of ``le`` among the labels, floats such as
``1.28734e+06``/``NaN``/``+Inf``, escaped label values (``\\"``, ``\\\\``, ``\\n``), blank
lines, ``\\r\\n`` endings, ``# EOF``, exemplars and timestamps after the value, families
with HELP/TYPE but no samples. Bounds: body bytes, sample lines and the length of one
line (``MAX_LINE``, 64 KiB), all ``PromTextError``; past ``max_family_series`` series
of one wanted family, further new series are counted in ``Snapshot.skipped``, not read. The cost is linear in the body size
whatever its shape: a line split over many chunks is collected in pieces, never by
re-concatenating its growing tail, and cannot grow past ``MAX_LINE``.
Invalid UTF-8 and HTML are errors. A duplicated series keeps its first value (as
Prometheus does) and is counted in ``Snapshot.duplicates``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

LabelKey = tuple[tuple[str, str], ...]

_LABEL_BLOCK = re.compile(r'\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\}')
_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_.:]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_ESC = re.compile(r"\\(.)")
_HIST_SUFFIXES = ("bucket", "sum", "count")
CHUNK = 64 * 1024
MAX_LINE = 64 * 1024


class PromTextError(ValueError):
    """The body is not a well-formed (or not an acceptably small) exposition."""


def canonical(name: str) -> str:
    """The spelling used for lookups: ``vllm:x`` and ``vllm_x`` are the same family."""
    return name.replace(":", "_") if ":" in name else name


@dataclass
class HistSeries:
    """One histogram series as read: cumulative buckets by bound, sum and count."""

    buckets: dict[float, float] = field(default_factory=dict)
    sum: float | None = None
    count: float | None = None


@dataclass
class Snapshot:
    """What one body held of the wanted families (keys are canonical names)."""

    scalars: dict[str, dict[LabelKey, float]] = field(default_factory=dict)
    histograms: dict[str, dict[LabelKey, HistSeries]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    samples: int = 0
    duplicates: int = 0
    skipped: int = 0  # samples of a wanted family past ``max_family_series`` (not parsed)
    openmetrics_eof: bool = False


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return _ESC.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _bound(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise PromTextError(f"bad bucket bound le={raw!r}") from None


class Parser:
    """Feed body chunks, then ``close()`` for the ``Snapshot``.

    ``scalars`` are sample names (``vllm:prompt_tokens_total``, ``tgi_request_input_length_sum``),
    ``histograms`` are histogram base names (``vllm:e2e_request_latency_seconds``).
    """

    def __init__(
        self,
        scalars: Iterable[str] = (),
        histograms: Iterable[str] = (),
        *,
        max_samples: int = 1_000_000,
        max_bytes: int = 64 * 1024 * 1024,
        max_line: int = MAX_LINE,
        max_family_series: int = 1_000_000,
    ) -> None:
        self.max_line = max_line
        self.max_family_series = max_family_series
        self._want_scalar = {canonical(n) for n in scalars}
        self._want_hist = {canonical(n) for n in histograms}
        self.max_samples = max_samples
        self.max_bytes = max_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._tail: list[str] = []  # pieces of the unfinished last line
        self._tail_len = 0
        self._bytes = 0
        self._line_no = 0
        self._label_cache: dict[str, tuple[tuple[str, str], ...]] = {}
        self._names: dict[str, tuple] = {}
        self.snap = Snapshot()

    # -- input -----------------------------------------------------------------------
    def feed(self, chunk: bytes | memoryview) -> None:
        self._bytes += len(chunk)
        if self._bytes > self.max_bytes:
            raise PromTextError(f"body larger than {self.max_bytes} bytes")
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise PromTextError(f"invalid UTF-8 near byte {self._bytes - len(chunk) + exc.start}") from None
        if not text:
            return
        cut = text.find("\n")
        if cut < 0:  # still inside one line: keep the piece, check the line's length
            self._tail.append(text)
            self._tail_len += len(text)
            self._check_line(self._tail_len)
            return
        if self._tail:
            self._tail.append(text[: cut + 1])
            self._check_line(self._tail_len + cut)
            head, text = "".join(self._tail), text[cut + 1 :]
            self._tail.clear()
            self._tail_len = 0
            self._lines([head[:-1]])
        lines = text.split("\n")
        last = lines.pop()
        if len(text) > self.max_line:
            self._check_line(max(map(len, lines), default=0))
        if last:
            self._tail.append(last)
            self._tail_len = len(last)
            self._check_line(self._tail_len)
        self._lines(lines)

    def _check_line(self, length: int) -> None:
        if length > self.max_line:
            raise PromTextError(f"line {self._line_no + 1}: longer than {self.max_line} characters")

    def close(self) -> Snapshot:
        try:
            rest = self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise PromTextError("invalid UTF-8 at the end of the body (truncated character)") from None
        last = "".join(self._tail) + rest
        self._tail.clear()
        self._tail_len = 0
        self._check_line(len(last))
        if last.strip():
            # A last line without its newline: accept it only if it is complete.
            self._lines([last], strict_last=True)
        return self.snap

    # -- the hot loop ----------------------------------------------------------------
    def _classify(self, name: str) -> tuple:
        """(0, -, -) skip; (1, key, -) wanted scalar; (2, base, suffix) wanted histogram sample;
        (3, key, suffix, base) both (a histogram's ``_sum`` also read as a scalar)."""
        key = canonical(name)
        base, _, suffix = key.rpartition("_")
        in_hist = suffix in _HIST_SUFFIXES and base in self._want_hist
        if key in self._want_scalar:
            # A histogram's _sum/_count may also be wanted as a scalar (TGI's token-length sums).
            hit: tuple = (3, key, suffix, base) if in_hist else (1, key, "")
        else:
            hit = (2, base, suffix) if in_hist else (0, "", "")
        if len(self._names) < 65536:
            self._names[name] = hit
        return hit

    def _lines(self, lines: list[str], strict_last: bool = False) -> None:
        snap = self.snap
        names = self._names
        max_samples = self.max_samples
        max_family = self.max_family_series
        samples = snap.samples
        base_no = self._line_no
        self._line_no += len(lines)
        for n, line in enumerate(lines, base_no + 1):
            if not line:
                continue
            c = line[0]
            if c == "#":
                self._comment(line)
                continue
            if line[-1] == "\r":
                line = line[:-1]
                if not line:
                    continue
            samples += 1
            if snap.openmetrics_eof:
                self._bad_line(line, n, strict_last)
            if samples > max_samples:
                raise PromTextError(f"more than {max_samples} samples in the body")
            sp = line.find(" ")
            br = line.find("{", 0, sp if sp >= 0 else len(line))
            end = br if br >= 0 else sp
            if end <= 0:
                self._bad_line(line, n, strict_last)
            name = line[:end]
            hit = names.get(name)
            if hit is None:
                if not (c.isalpha() or c == "_" or c == ":") or snap.openmetrics_eof:
                    self._bad_line(line, n, strict_last)
                hit = self._classify(name)
            kind = hit[0]
            if kind == 0:
                continue
            self._line_no = n
            if kind == 2:
                self._hist_sample(hit[1], hit[2], line, br, end)
                continue
            series = snap.scalars.get(hit[1])
            if series is None:
                series = snap.scalars[hit[1]] = {}
            elif len(series) >= max_family:  # a family this large is not read any further
                snap.skipped += 1
                continue
            labels, value = self._sample(line, br, end)
            if labels in series:
                snap.duplicates += 1
            else:
                series[labels] = value
            if kind == 3:
                self._hist_sample(hit[3], hit[2], line, br, end)
        snap.samples = samples
        self._line_no = base_no + len(lines)

    def _bad_line(self, line: str, n: int, strict_last: bool) -> None:
        if self.snap.openmetrics_eof:
            raise PromTextError(f"line {n}: content after '# EOF'")
        c = line.lstrip()[:1] or " "
        if not (c.isalpha() or c in "_:"):
            what = "an HTML page" if c == "<" else f"a line starting with {c!r}"
            raise PromTextError(f"line {n}: not Prometheus text ({what})")
        if strict_last:
            raise PromTextError(f"line {n}: truncated sample {line[:80]!r}")
        raise PromTextError(f"line {n}: sample without a value {line[:80]!r}")

    def _comment(self, line: str) -> None:
        if line.startswith("# TYPE "):
            parts = line.split(None, 3)
            if len(parts) >= 4:
                self.snap.types[canonical(parts[2])] = parts[3].strip()
        elif line.rstrip() == "# EOF":
            self.snap.openmetrics_eof = True

    def _labels(self, line: str, br: int) -> tuple[tuple[tuple[str, str], ...], int]:
        """Sorted label pairs of the block starting at ``br`` and the position after it."""
        close = line.find("}", br)
        if close > 0 and "\\" not in line:
            inner = line[br + 1 : close]
            if inner.count('"') % 2 == 0:  # no escapes: an even quote count means '}' is outside quotes
                pairs = self._label_cache.get(inner)
                if pairs is None:
                    pairs = self._split_simple(inner)
                return pairs, close + 1
        m = _LABEL_BLOCK.match(line, br)
        if m is None:
            raise PromTextError(f"line {self._line_no}: unterminated label set {line[:80]!r}")
        return self._split_escaped(m.group(1)), m.end()

    def _split_simple(self, inner: str) -> tuple[tuple[str, str], ...]:
        out = []
        for part in inner.split('",'):
            if not part.strip():
                continue
            k, eq, v = part.partition("=")
            v = v.strip()
            if not eq or not v.startswith('"'):
                raise PromTextError(f"line {self._line_no}: bad label syntax {part[:40]!r}")
            v = v[1:]
            if v.endswith('"'):
                v = v[:-1]
            out.append((k.strip(), v))
        pairs = tuple(sorted(out))
        if len(self._label_cache) < 4096:
            self._label_cache[inner] = pairs
        return pairs

    def _split_escaped(self, inner: str) -> tuple[tuple[str, str], ...]:
        out = []
        pos = 0
        n = len(inner)
        while pos < n:
            pm = _PAIR.match(inner, pos)
            if pm is None:
                if inner[pos:].strip():
                    raise PromTextError(f"line {self._line_no}: bad label syntax {inner[pos : pos + 40]!r}")
                break
            out.append((pm.group(1), _unescape(pm.group(2))))
            pos = pm.end()
        return tuple(sorted(out))

    def _value(self, line: str, pos: int) -> float:
        rest = line[pos:].split(None, 1)
        if not rest:
            raise PromTextError(f"line {self._line_no}: sample without a value {line[:80]!r}")
        raw = rest[0]
        try:
            return float(raw)
        except ValueError:
            raise PromTextError(f"line {self._line_no}: bad value {raw[:40]!r}") from None

    def _sample(self, line: str, br: int, end: int) -> tuple[tuple[tuple[str, str], ...], float]:
        if br >= 0:
            pairs, pos = self._labels(line, br)
            return pairs, self._value(line, pos)
        return (), self._value(line, end)

    def _hist_sample(self, base: str, suffix: str, line: str, br: int, end: int) -> None:
        le = None
        pairs: tuple[tuple[str, str], ...] | None = None
        pos = end
        if br >= 0:
            close = line.find("}", br)
            inner = line[br + 1 : close] if close > 0 else ""
            if suffix == "bucket" and close > 0 and "\\" not in line and inner.count('"') % 2 == 0:
                i = inner.find('le="')
                while i > 0 and inner[i - 1] != ",":
                    i = inner.find('le="', i + 1)
                if i >= 0:
                    j = inner.find('"', i + 4)
                    le = _bound(inner[i + 4 : j])
                    rest = (inner[:i] + inner[j + 2 :]).rstrip(",")
                    pairs = self._label_cache.get(rest)
                    if pairs is None:
                        pairs = self._split_simple(rest)
                    pos = close + 1
            if pairs is None:
                pairs, pos = self._labels(line, br)
        else:
            pairs = ()
        value = self._value(line, pos)
        if suffix == "bucket" and le is None:
            rest_pairs = []
            for k, v in pairs:
                if k == "le":
                    le = _bound(v)
                else:
                    rest_pairs.append((k, v))
            if le is None:
                raise PromTextError(f"line {self._line_no}: bucket without le")
            pairs = tuple(rest_pairs)
        series = self.snap.histograms.get(base)
        if series is None:
            series = self.snap.histograms[base] = {}
        hs = series.get(pairs)
        if hs is None:
            if len(series) >= self.max_family_series:
                self.snap.skipped += 1
                return
            hs = series[pairs] = HistSeries()
        if le is not None:
            if le in hs.buckets:
                self.snap.duplicates += 1
            else:
                hs.buckets[le] = value
        elif suffix == "sum":
            if hs.sum is None:
                hs.sum = value
            else:
                self.snap.duplicates += 1
        elif hs.count is None:
            hs.count = value
        else:
            self.snap.duplicates += 1


def parse(
    body: bytes,
    scalars: Iterable[str] = (),
    histograms: Iterable[str] = (),
    *,
    max_samples: int = 1_000_000,
    max_bytes: int = 64 * 1024 * 1024,
) -> Snapshot:
    """Parse a whole body (fed in chunks through a memoryview, without copying it)."""
    p = Parser(scalars, histograms, max_samples=max_samples, max_bytes=max_bytes)
    view = memoryview(body)
    for i in range(0, len(view), CHUNK):
        p.feed(view[i : i + CHUNK])
    return p.close()
