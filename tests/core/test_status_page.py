"""Issue 13 (status page): ``/`` lists every target with kind, state, last error (redacted),
last read duration, series exported and dropped; collectors; the redacted config; the version;
and says so when nothing was found. Checked over HTTP and in a real headless Chromium
(Debian's ``chromium``, loopback only): the page loads, a down target is drawn in a visibly
different colour, and no secret is on the page.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from exporter_proc import Exporter, run_exporter
from http_upstream import Upstream, fixture, send
from llm_exporter.config import load_config_text
from llm_exporter.metricset import MetricSet
from llm_exporter.statuspage import nothing_found
from support import free_port, need_binary, wait_for

UP_RGB, DOWN_RGB = (0x1B, 0x7F, 0x3B), (0xC6, 0x28, 0x28)  # the state badges' colours in statuspage.STYLE


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream({"/metrics": send(body=fixture("vllm-v1.prom"))}) as up:
        yield up


@pytest.fixture(scope="module")
def exporter(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    dead = free_port()
    cfg = (
        "gpu:\n  enabled: false\n"
        "inference:\n"
        f"  - name: good\n    url: {upstream.url}\n    server: vllm\n"
        f"  - name: bad\n    url: http://alice:S3cretPw@127.0.0.1:{dead}/?token=S3cretTok\n"
        "    bearer_token: S3cretBearer\n"
        "queues:\n"
        f"  - name: rabbit\n    backend: rabbitmq\n    url: http://guest:S3cretRabbit@127.0.0.1:{dead}\n"
        "    password: S3cretQueue\n"
    )
    with run_exporter(cfg, tmp_path_factory.mktemp("status")) as exp:
        yield exp


def test_page_lists_targets_collectors_config_and_version(exporter: Exporter) -> None:
    wait_for(lambda: "class='down' data-target='rabbit'" in exporter.get("/"), 20, what="status rows")
    page = exporter.get("/")
    assert "S3cret" not in page
    assert "<tr class='up' data-target='good'><td>good</td><td>inference</td><td>vllm" in page
    assert "<tr class='down' data-target='bad'>" in page
    assert "connection refused: http://alice:xxxxx@127.0.0.1:" in page or "xxxxx" in page
    assert "<td>queue</td>" in page, "the queue target's kind"
    assert "<table id='collectors'>" in page and "<td>inference</td>" in page
    assert "bearer_token: xxxxx" in page and "password: xxxxx" in page, "config shown with secrets masked"
    assert "llm-exporter 0." in page and "loaded 20" in page
    good_row = page.split("data-target='good'")[1].split("</tr>")[0]
    series = int(good_row.split("<td>")[6].split("</td>")[0])
    assert series > 0, good_row
    assert "<script" not in page and "http://" not in page.split("<pre id='config'>")[0].replace(
        "http://alice:xxxxx", ""
    ).replace("http://guest:xxxxx", ""), "no external asset"


def test_nothing_found_is_said_on_the_page_and_by_scrape_once(tmp_path: Path) -> None:
    cfg = "gpu:\n  enabled: false\ndiscovery:\n  enabled: false\n"
    with run_exporter(cfg, tmp_path) as exp:
        page = exp.get("/")
        assert "id='nothing-found'" in page and "no target configured and engine discovery is off" in page
    (tmp_path / "c.yml").write_text(cfg)
    res = subprocess.run(
        [sys.executable, "-m", "llm_exporter", "scrape-once", f"--config.file={tmp_path / 'c.yml'}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0 and "no target configured and engine discovery is off" in res.stderr
    discovering = load_config_text("discovery:\n  enabled: true\n  host: 127.0.0.1\n")
    message = nothing_found(discovering, MetricSet())
    assert message is not None and "no engine answered on the default ports of 127.0.0.1: 8000" in message


def read_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, unfiltered rows) of an 8-bit RGB/RGBA non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, out, prev = zlib.decompress(idat), width * bpp, bytearray(), bytearray(width * bpp)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        out += line
        prev = line
    return width, height, bpp, bytes(out)


def count_colour(png: tuple[int, int, int, bytes], rgb: tuple[int, int, int], tol: int = 12) -> int:
    _, _, bpp, pixels = png
    return sum(1 for i in range(0, len(pixels), bpp) if all(abs(pixels[i + k] - rgb[k]) <= tol for k in range(3)))


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    binary = need_binary("chromium", "chromium-browser")
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def test_real_browser_shows_a_down_target_differently_and_no_secret(exporter: Exporter, tmp_path: Path) -> None:
    wait_for(lambda: "class='down' data-target='rabbit'" in exporter.get("/"), 20, what="status rows")
    url = exporter.url + "/"
    dom = chromium(["--dump-dom", url], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-target="bad"' in dom.stdout and 'class="down"' in dom.stdout, dom.stdout[:2000]
    assert "S3cret" not in dom.stdout
    shot = tmp_path / "status.png"
    res = chromium([f"--screenshot={shot}", "--window-size=1400,900", "--hide-scrollbars", url], tmp_path / "profile")
    assert shot.exists(), res.stderr[-2000:]
    png = read_png(shot.read_bytes())
    assert count_colour(png, UP_RGB) > 50, "the up target's badge is drawn"
    assert count_colour(png, DOWN_RGB) > 50, "the down targets' badges are drawn in another colour"
