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

Bodies up to ``MAX_HELD`` bytes are held and read whole at ``close``: once a target's
bodies have a stable shape, by its template (``promtemplate``), which gives exactly what
this parser gives at a fraction of the cost. A held body is still bounded as it arrives (a
line past ``max_line`` or more lines than ``max_samples`` switches to streaming at once,
which raises the same error as early as before); larger bodies are streamed.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from typing import cast

from . import promtemplate
from .promcareful import CarefulPath, Classified
from .promlabels import LabelKey as LabelKey
from .promlabels import PromTextError as PromTextError
from .promsnap import HistSeries as HistSeries
from .promsnap import ParseCache as ParseCache
from .promsnap import Snapshot as Snapshot

_HIST_SUFFIXES = ("bucket", "sum", "count")
CHUNK = 64 * 1024
MAX_LINE = 64 * 1024
MAX_HELD = 16 * 1024 * 1024  # larger bodies are parsed as they stream in, never held whole


def canonical(name: str) -> str:
    """The spelling used for lookups: ``vllm:x`` and ``vllm_x`` are the same family."""
    return name.replace(":", "_") if ":" in name else name


class Parser(CarefulPath):
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
        cache: ParseCache | None = None,
        max_held: int = MAX_HELD,
    ) -> None:
        self.max_line = max_line
        self.max_family_series = max_family_series
        self.cache = cache if cache is not None else ParseCache()
        self._want_scalar = {canonical(n) for n in scalars}
        self._want_hist = {canonical(n) for n in histograms}
        self.max_samples = max_samples
        self.max_bytes = max_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._tail: list[str] = []  # pieces of the unfinished last line
        self._tail_len = 0
        self._bytes = 0
        self._line_no = 0
        self.names: dict[str, Classified] = {}
        self.snap = Snapshot()
        # Bodies up to ``max_held`` bytes are held whole and read at ``close``: by the
        # target's template when the body has the shape of the ones before (``promtemplate``).
        self.max_held = min(max_held, max_bytes)
        self._held: list[bytes] | None = [] if self.max_held > 0 else None
        self._held_run = 0  # bytes since the last newline of the held chunks
        self._held_lines = 0
        self._held_chunk = 0  # the longest held chunk
        self._key = (frozenset(self._want_scalar), frozenset(self._want_hist), max_samples, max_family_series, max_line)

    # -- input -----------------------------------------------------------------------
    def feed(self, chunk: bytes | memoryview) -> None:
        self._bytes += len(chunk)
        if self._bytes > self.max_bytes:
            raise PromTextError(f"body larger than {self.max_bytes} bytes")
        held = self._held
        if held is not None:  # a body small enough to hold: read at close (maybe by its template)
            data = chunk if isinstance(chunk, bytes) else bytes(chunk)
            held.append(data)
            self._held_chunk = max(self._held_chunk, len(data))
            # The unfinished line's length, so that an endless line is refused as early as when
            # streaming (exact for chunks up to max_line; longer ones are checked at close).
            nl = data.find(b"\n")
            run = self._held_run + (len(data) if nl < 0 else nl)
            if nl >= 0 and run <= self.max_line:
                run = len(data) - data.rfind(b"\n") - 1
            self._held_run = run
            self._held_lines += data.count(b"\n")
            if self._bytes <= self.max_held and run <= self.max_line and self._held_lines <= self.max_samples:
                return
            # Too large to hold, a line too long or maybe too many samples: stream (and raise) from here.
            self._held = None
            for piece in held:
                self._stream(piece)
            return
        self._stream(chunk)

    def _stream(self, chunk: bytes | memoryview) -> None:
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
        held, self._held = self._held, None
        if held is None:
            return self._close_stream()
        body = b"".join(held)
        parts = promtemplate.split(body)
        cache = self.cache
        template = cache.template
        if parts is not None and template is not None and cache.tried == (template.shape, self._key):
            # While held, every line that spans chunks was measured; a line inside one chunk
            # is no longer than the chunk: no line is too long if no chunk was.
            snap = template.read(body, parts, lines_checked=self._held_chunk <= self.max_line)
            if snap is not None:
                cache.template_reads += 1
                self.snap = snap
                return snap
        view = memoryview(body)
        for i in range(0, len(view), CHUNK):
            self._stream(view[i : i + CHUNK])
        snap = self._close_stream()
        if parts is not None:
            self._learn(parts, snap)
        return snap

    def _learn(self, parts: list[bytes], snap: Snapshot) -> None:
        """Make a template once two bodies in a row had the same shape (``promtemplate``)."""
        cache = self.cache
        shape = promtemplate.shape_of(parts)
        if shape != cache.last_shape:
            cache.last_shape, cache.template = shape, None
            return
        if cache.tried == (shape, self._key):
            return  # learnt (or found unlearnable) already; the last body just did not fit it
        cache.tried = (shape, self._key)
        cache.template = promtemplate.learn(self, parts, shape, snap)

    def _close_stream(self) -> Snapshot:
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
    def _classify(self, name: str) -> Classified:
        """(0, -, -, -) skip; (1, key, -, -) wanted scalar; (2, base, suffix, -) wanted histogram
        sample; (3, key, suffix, base) both (a histogram's ``_sum`` also read as a scalar)."""
        key = canonical(name)
        base, _, suffix = key.rpartition("_")
        in_hist = suffix in _HIST_SUFFIXES and base in self._want_hist
        if key in self._want_scalar:
            # A histogram's _sum/_count may also be wanted as a scalar (TGI's token-length sums).
            hit: Classified = (3, key, suffix, base) if in_hist else (1, key, "", "")
        else:
            hit = (2, base, suffix, "") if in_hist else (0, "", "", "")
        if len(self.names) < 65536:
            self.names[name] = hit
        return hit

    def _lines(self, lines: list[str], strict_last: bool = False) -> None:
        """The hot loop: one pass over complete lines.

        A wanted sample whose label block was seen before (``ParseCache``) and whose value
        is a plain number costs a few slices, dict lookups and one ``float``; anything else
        (first sight of a series, escapes, timestamps, exemplars) takes ``_sample_slow``.
        """
        snap = self.snap
        names = self.names
        scalars = snap.scalars
        histograms = snap.histograms
        plain = self.cache.plain
        bucket = self.cache.bucket
        max_samples = self.max_samples
        max_family = self.max_family_series
        samples = snap.samples
        base_no = self._line_no
        self._line_no += len(lines)
        # The fastest path needs no per-line limit checks: none can trip within this batch.
        fast = not snap.openmetrics_eof and samples + len(lines) <= max_samples
        last_hit: Classified | None = None  # the histogram series of the previous bucket line
        last_pairs: LabelKey | None = None
        last_buckets: dict[float, float] = {}
        for n, line in enumerate(lines, base_no + 1):
            if fast:
                # ``name{labels} value`` with a known name and a cached label block: one
                # partition, one find, two lookups and a float. Cached blocks hold no '}', so
                # a head ending in '}' whose inside is cached is exactly name + block.
                head, _, raw = line.rpartition(" ")
                br = head.find("{")
                if br > 0 and head[-1] == "}":
                    hit = names.get(head[:br])
                    if hit is not None:
                        kind = hit[0]
                        if kind == 0:
                            samples += 1
                            continue
                        if kind == 1:
                            pairs = plain.get(head[br + 1 : -1])
                            if pairs is not None:
                                try:
                                    num = float(raw)
                                except ValueError:
                                    pairs = None
                            if pairs is not None:
                                samples += 1
                                series = scalars.get(hit[1])
                                if series is None:
                                    series = scalars[hit[1]] = {}
                                if pairs in series:
                                    snap.duplicates += 1
                                elif len(series) >= max_family:
                                    snap.skipped += 1
                                else:
                                    series[pairs] = num
                                continue
                        elif kind == 2 and hit[2] == "bucket":
                            known = bucket.get(head[br + 1 : -1])
                            if known is not None:
                                try:
                                    num = float(raw)
                                except ValueError:
                                    known = None
                            if known is not None:
                                samples += 1
                                pairs = known[0]
                                if pairs is not last_pairs or hit is not last_hit:
                                    family = histograms.get(hit[1])
                                    if family is None:
                                        family = histograms[hit[1]] = {}
                                    hs = family.get(pairs)
                                    if hs is None:
                                        if len(family) >= max_family:
                                            snap.skipped += 1
                                            continue
                                        hs = family[pairs] = HistSeries()
                                    # the line parser's own series: their buckets are dicts
                                    last_hit, last_pairs = hit, pairs
                                    last_buckets = cast("dict[float, float]", hs.buckets)
                                if known[1] in last_buckets:
                                    snap.duplicates += 1
                                else:
                                    last_buckets[known[1]] = num
                                continue
                        elif kind == 2:  # a histogram's _sum or _count
                            pairs = plain.get(head[br + 1 : -1])
                            if pairs is not None:
                                try:
                                    num = float(raw)
                                except ValueError:
                                    pairs = None
                            if pairs is not None:
                                samples += 1
                                self._store_hist(hit[1], hit[2], pairs, None, num)
                                continue
                        if kind != 3:
                            # A label block not seen yet (or an odd value): no need to
                            # split the line again, the name and the block start are known.
                            samples += 1
                            self._line_no = n
                            self._sample_slow(hit, line[:-1] if line[-1] == "\r" else line, br, br)
                            continue
            if not line:
                continue
            c = line[0]
            if c == "#":
                self._comment(line)
                if snap.openmetrics_eof:
                    fast = False
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
            br = line.find("{")
            if br >= 0:
                end = line.find(" ", 0, br)
                if end >= 0:
                    br = -1  # a '{' after the name and a space: an exemplar, not labels
                else:
                    end = br
            else:
                end = line.find(" ")
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
            if br > 0:
                close = line.find("}", br)
                inner = line[br + 1 : close]
                try:
                    value = float(line[close + 1 :])
                except ValueError:
                    value = None
                if value is not None and close > 0:
                    if kind == 1:
                        pairs = plain.get(inner)
                        if pairs is not None:
                            series = scalars.get(hit[1])
                            if series is None:
                                series = scalars[hit[1]] = {}
                            if pairs in series:
                                snap.duplicates += 1
                            elif len(series) >= max_family:  # a family this large is not read further
                                snap.skipped += 1
                            else:
                                series[pairs] = value
                            continue
                    elif kind == 3:  # also a scalar: the careful path stores both
                        pass
                    elif hit[2] == "bucket":
                        known = bucket.get(inner)
                        if known is not None:
                            family = histograms.get(hit[1])
                            if family is None:
                                family = histograms[hit[1]] = {}
                            hs = family.get(known[0])
                            if hs is None:
                                if len(family) >= max_family:
                                    snap.skipped += 1
                                    continue
                                hs = family[known[0]] = HistSeries()
                            buckets = cast("dict[float, float]", hs.buckets)  # the line parser's own
                            if known[1] in buckets:
                                snap.duplicates += 1
                            else:
                                buckets[known[1]] = value
                            continue
                    else:
                        pairs = plain.get(inner)
                        if pairs is not None:
                            self._store_hist(hit[1], hit[2], pairs, None, value)
                            continue
            self._line_no = n
            self._sample_slow(hit, line, br, end)
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
    if len(body) <= p.max_held:
        p.feed(body)
        return p.close()
    view = memoryview(body)
    for i in range(0, len(view), CHUNK):
        p.feed(view[i : i + CHUNK])
    return p.close()
