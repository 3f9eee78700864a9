"""The meeting pack in a real browser: it paints, loads nothing from the network, logs no errors,
and reads at 1280 px (a planner's laptop) without horizontal scrolling or a false warehouse status.
The great-expectations Data Docs published beside it must also be styled and list their
validations with the network blocked.

Needs Debian's chromium at /usr/bin/chromium; skipped cleanly without it.
"""

import html
import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from reporting import figures as fig
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
    """A report from synthetic frames, and the one `sop demo` publishes (the real thing).

    Its capacity_report.parquet lies beside it, as in a published version.
    """
    if request.param == "synthetic":
        folder = tmp_path_factory.mktemp("report")
        path = folder / "report.html"
        path.write_text(render_report(**small_inputs), encoding="utf-8")
        small_inputs["capacity_report"].to_parquet(folder / "capacity_report.parquet")
        return path
    demo = request.getfixturevalue("demo_run")
    return Path(demo.version / "report.html")


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


# --- reading at 1280 px ------------------------------------------------------------------------

LAPTOP_WIDTH = 1280
# The page is loaded, byte for byte, in a 1280 px wide frame of a wrapper page; the wrapper's
# script (the report itself runs none, its CSP forbids it) measures what a planner would see
# and writes the result into the wrapper's DOM, which --dump-dom prints.
MEASURE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe id="page" src="PAGE" style="border:0;width:WIDTHpx;height:900px"></iframe>
<pre id="result"></pre>
<script>
document.getElementById('page').addEventListener('load', function () {
  var doc = this.contentDocument, root = doc.documentElement, vw = root.clientWidth;
  var out = {viewport: vw, page_width: root.scrollWidth, overflow: [], statuses: {},
             short_tips: 0, long_numbers: [], verdict: null};
  doc.querySelectorAll('table, .wide, svg, pre, .cards').forEach(function (el) {
    var r = el.getBoundingClientRect(), style = doc.defaultView.getComputedStyle(el);
    var scrolls = style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1;
    if (r.right > vw + 0.5 || r.left < -0.5 || scrolls) {
      var sec = el.closest('section');
      out.overflow.push([sec ? sec.id : '', el.tagName, el.className.baseVal === undefined ?
        el.className : el.className.baseVal, Math.round(r.right), el.scrollWidth]);
    }
  });
  var cap = doc.getElementById('capacity');
  if (cap) {
    cap.querySelectorAll('table tbody tr').forEach(function (tr) {
      var badge = tr.querySelector('.badge');
      if (badge) out.statuses[tr.cells[0].textContent] = badge.textContent;
    });
    cap.querySelectorAll('svg title').forEach(function (t) {
      if (/\\(short\\)$/.test(t.textContent)) out.short_tips += 1;
    });
  }
  out.long_numbers = (doc.body.textContent.match(/\\d\\.\\d{4,}/g) || []).slice(0, 20);
  var v = doc.querySelector('p.verdict');
  if (v) out.verdict = [v.className, v.textContent];
  document.getElementById('result').textContent = JSON.stringify(out);
});
</script></body></html>"""


def read_at_laptop_width(tmp: Path, page: Path) -> dict[str, Any]:
    """What the page looks like in a 1280 px wide browser: widths, statuses, numbers, verdict."""
    wrapper = tmp / "measure.html"
    html = MEASURE.replace("PAGE", page.as_uri()).replace("WIDTH", str(LAPTOP_WIDTH))
    wrapper.write_text(html, encoding="utf-8")
    result = run_chromium(
        tmp, wrapper.as_uri(), "--allow-file-access-from-files",
        f"--window-size={LAPTOP_WIDTH + 100},1000", "--dump-dom",
    )
    found = re.search(r'<pre id="result">(.*?)</pre>', result.stdout, re.S)
    assert found and found.group(1), f"the measuring script wrote nothing: {result.stderr[-1500:]}"
    return dict(json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<")
                           .replace("&gt;", ">")))


def published_statuses(capacity: pd.DataFrame) -> dict[str, str]:
    """Each warehouse's worst status over the horizon in the published capacity report."""
    rank = {"ok": 0, "overtime": 1, "short": 2}
    status = fig.text(capacity, "status", "ok").str.lower()
    worst = status.map(rank).groupby(fig.text(capacity, "location")).max()
    names = {v: k for k, v in rank.items()}
    return {str(loc): names[int(r)] for loc, r in worst.items()}


def test_report_reads_at_1280_px(report_file: Path, tmp_path: Path) -> None:
    seen = read_at_laptop_width(tmp_path, report_file)
    assert LAPTOP_WIDTH - 20 <= seen["viewport"] <= LAPTOP_WIDTH  # minus a scrollbar at most
    assert seen["page_width"] <= seen["viewport"], "the page scrolls sideways"
    assert seen["overflow"] == [], "tables or charts wider than the screen (or scrolling)"
    assert seen["long_numbers"] == [], "raw floats in the text a planner reads"


def test_warehouse_badges_say_what_the_capacity_report_says(
    report_file: Path, tmp_path: Path
) -> None:
    capacity = pd.read_parquet(report_file.with_name("capacity_report.parquet"))
    seen = read_at_laptop_width(tmp_path, report_file)
    assert seen["statuses"] == published_statuses(capacity)
    n_short = int((fig.text(capacity, "status").str.lower() == "short").sum())
    if n_short == 0:
        assert "short" not in seen["statuses"].values() and seen["short_tips"] == 0
    else:
        assert seen["short_tips"] > 0


def test_whatif_report_reads_at_1280_px(demo_run: Any, tmp_path: Path) -> None:
    """The README's what-if on the demo: its tables fit, and its verdict colour is its words'."""
    seen = read_at_laptop_width(tmp_path, demo_run.scenario / "report.html")
    assert seen["page_width"] <= seen["viewport"]
    assert seen["overflow"] == []
    assert seen["long_numbers"] == []
    summary = json.loads((demo_run.scenario / "summary.json").read_text())
    cls, text = seen["verdict"]
    assert text == summary["verdict"]
    cut = "cannot be served" in text
    assert (cls == "verdict short") == cut
    assert text.startswith("Feasible") != cut


def test_layout_check_sees_a_page_too_wide(tmp_path: Path) -> None:
    """Guard against a vacuous pass: a table of 40 wide columns is caught by the same check."""
    page = tmp_path / "wide.html"
    cells = "".join(f"<td>{i:,}_{i:,}_{i:,}_{i:,}</td>" for i in range(40))
    page.write_text(f"<html><body><table><tr>{cells}</tr></table></body></html>")
    seen = read_at_laptop_width(tmp_path, page)
    assert seen["page_width"] > seen["viewport"] and seen["overflow"]


# --- great-expectations Data Docs, published in the same version -------------------------

# No name resolves and every request goes to a proxy nobody listens on: a page that still
# needs a CDN shows it.
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"]
BOOTSTRAP_ALERT_SECONDARY = "rgb(226, 227, 229)"  # .alert-secondary background in Bootstrap 4
# Written into a copy of the index: reports what the page's CSS, scripts and fonts did.
PROBE = """<script>
window.addEventListener('load', function () {
  var probe = {
    alertBackground: getComputedStyle(document.querySelector('.alert-secondary')).backgroundColor,
    jquery: typeof window.jQuery,
  };
  if (window.jQuery && jQuery.fn.tab) {  // Bootstrap's JavaScript switches tabs
    jQuery('#Expectation-Suites-tab').tab('show');
  }
  function report(faces) {
    var suites = document.getElementById('Expectation-Suites');
    probe.suitesTabActive = suites.classList.contains('active');  // after the fade

    probe.iconFaces = faces.length;
    var out = document.createElement('pre');
    out.id = 'probe';
    out.textContent = JSON.stringify(probe);
    document.body.appendChild(out);
  }
  setTimeout(function () {
    var icons = document.fonts.load('900 16px "Font Awesome 6 Free"');
    icons.then(report, function () { report([]); });
  }, 1000);
});
</script>
"""


def _probe(tmp: Path, docs: Path, drop: str | None = None) -> dict[str, Any]:
    """Run PROBE in a copy of the Data Docs site (less `drop`, a file under it), offline."""
    site = tmp / "site"
    shutil.copytree(docs, site)
    if drop:
        (site / drop).unlink()
    index = site / "index.html"
    index.write_text(index.read_text().replace("</body>", PROBE + "</body>"))
    result = run_chromium(
        tmp, index.as_uri(), *OFFLINE, "--virtual-time-budget=10000", "--dump-dom"
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"the probe wrote nothing: {result.stderr[-2000:]}"
    return json.loads(html.unescape(found[1]))


def test_data_docs_list_every_validation_offline(demo_run: Any, tmp_path: Path) -> None:
    docs = demo_run.version / "data_docs"
    suites = sorted(p.name for p in (docs / "validations").iterdir())
    assert len(suites) >= 3
    dom = run_chromium(tmp_path, (docs / "index.html").as_uri(), *OFFLINE, "--dump-dom").stdout
    rows = re.findall(r'<tr class="clickable-row" data-href="validations/([^/"]+)/', dom)
    # One row per validation run; the demo publishes two cycles and Data Docs keep both.
    assert sorted(set(rows)) == suites
    assert len(rows) == len(list((docs / "validations").glob("**/*.html")))
    for suite in suites:  # each suite's name is shown, linked to its expectations
        assert f'href="expectations/{suite}.html"' in dom


def test_data_docs_are_styled_and_scripted_offline(demo_run: Any, tmp_path: Path) -> None:
    probe = _probe(tmp_path, demo_run.version / "data_docs")
    assert probe == {
        "alertBackground": BOOTSTRAP_ALERT_SECONDARY,
        "jquery": "function",
        "suitesTabActive": True,
        "iconFaces": 1,
    }


def test_style_probe_sees_a_missing_stylesheet(demo_run: Any, tmp_path: Path) -> None:
    """Guard against a vacuous pass: without Bootstrap's CSS the probe reports another colour."""
    docs = demo_run.version / "data_docs"
    probe = _probe(tmp_path, docs, drop="static/vendor/bootstrap/css/bootstrap.min.css")
    assert probe["alertBackground"] != BOOTSTRAP_ALERT_SECONDARY


@pytest.mark.parametrize("page", ["index.html", "expectations/*.html", "validations/**/*.html"])
def test_data_docs_request_nothing_remote_and_log_no_errors(
    demo_run: Any, tmp_path: Path, page: str
) -> None:
    path = sorted((demo_run.version / "data_docs").glob(page))[0]
    netlog = tmp_path / "net.json"
    result = run_chromium(
        tmp_path, path.as_uri(), "--enable-logging=stderr", "--v=0",
        f"--log-net-log={netlog}", "--virtual-time-budget=5000", "--dump-dom",
    )
    assert [u for u in _page_requests(netlog) if not u.startswith("file:")] == []
    for marker in ("Uncaught", "Refused to", "ERR_BLOCKED", "ERR_FILE_NOT_FOUND", "SyntaxError"):
        assert marker not in result.stderr, marker
