"""The meeting pack in a real browser: it paints, loads nothing from the network, logs no errors.

Needs Debian's chromium at /usr/bin/chromium; skipped cleanly without it.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reporting.html import SECTIONS, render_report

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="chromium is not installed at /usr/bin/chromium"
    ),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Requests the browser makes for itself (updates, accounts) carry no page origin.
BROWSER_INITIATOR = "not an origin"


def run_chromium(
    tmp: Path, url: str, *extra: str, timeout: int = 90
) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra, url]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return result


def decode_png(data: bytes) -> np.ndarray:
    """Minimal PNG decoder (8-bit RGB/RGBA, non-interlaced) -> height x width x channels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(bytes(idat)), dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):  # PNG filters chain row to row; each row is vectorised where possible
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            cur = line
        elif kind == 1:  # Sub: running sum per channel
            cur = np.cumsum(line.reshape(-1, bpp), axis=0).reshape(-1) % 256
        elif kind == 2:  # Up
            cur = (line + prev) % 256
        else:  # Average / Paeth depend on the left neighbour: byte by byte
            cur_l = [0] * stride
            lin, up = line.tolist(), prev.tolist()
            for i in range(stride):
                a = cur_l[i - bpp] if i >= bpp else 0
                b = up[i]
                if kind == 3:
                    cur_l[i] = (lin[i] + (a + b) // 2) % 256
                else:
                    c = up[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    cur_l[i] = (lin[i] + pred) % 256
            cur = np.array(cur_l, dtype=np.int32)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, bpp)


@pytest.fixture(scope="module", params=["synthetic", "demo"])
def report_file(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    small_inputs: dict[str, Any],
) -> Path:
    """A report from synthetic frames, and the one `sop demo` publishes (the real thing)."""
    folder = tmp_path_factory.mktemp("report")
    if request.param == "synthetic":
        path = folder / "report.html"
        path.write_text(render_report(**small_inputs), encoding="utf-8")
        return path
    sop = Path(sys.executable).with_name("sop")
    demo = subprocess.run(
        [str(sop), "demo", "--out", str(folder / "demo"), "--skus", "40", "--horizon", "12"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    (path,) = (folder / "demo").glob("cycle=*/version=1/report.html")
    return path


def test_report_paints_something(report_file: Path, tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    run_chromium(tmp_path, report_file.as_uri(), f"--screenshot={png}", "--window-size=1280,1400")
    assert png.exists(), "chromium wrote no screenshot"
    pixels = decode_png(png.read_bytes())
    assert pixels.shape[:2] == (1400, 1280)
    colours = np.unique(pixels.reshape(-1, pixels.shape[2])[::7], axis=0)
    assert len(colours) > 50, f"screenshot looks blank ({len(colours)} colours)"
    non_white = (pixels[..., :3] < 240).any(axis=2).mean()
    assert 0.02 < non_white < 0.9


def test_dom_has_every_section(report_file: Path, tmp_path: Path) -> None:
    result = run_chromium(tmp_path, report_file.as_uri(), "--dump-dom")
    dom = result.stdout
    for sid in SECTIONS:
        assert f'id="{sid}"' in dom
    assert "<svg" in dom


def _page_requests(netlog: Path) -> list[str]:
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        is_start = names.get(event["type"]) == "URL_REQUEST_START_JOB" and "url" in params
        if is_start and params.get("initiator") != BROWSER_INITIATOR:
            urls.append(params["url"])
    return urls


def test_no_network_requests_and_no_console_errors(report_file: Path, tmp_path: Path) -> None:
    netlog = tmp_path / "net.json"
    result = run_chromium(
        tmp_path,
        report_file.as_uri(),
        "--enable-logging=stderr",
        "--v=0",
        f"--log-net-log={netlog}",
        "--dump-dom",
    )
    assert netlog.exists()
    assert [u for u in _page_requests(netlog) if not u.startswith("file:")] == []
    log = result.stderr
    for marker in ("Uncaught", "Refused to", "ERR_BLOCKED", "SyntaxError"):
        assert marker not in log, marker


def test_network_detector_sees_a_page_request(tmp_path: Path) -> None:
    """Guard against a vacuous pass: a page that does load a URL is caught by the same check."""
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    netlog = tmp_path / "net.json"
    run_chromium(tmp_path, page.as_uri(), f"--log-net-log={netlog}", "--dump-dom")
    assert any(u.startswith("http://127.0.0.1:9/") for u in _page_requests(netlog))
