"""Offline Data Docs: CDN URLs become vendored files at the right depth, tables get their rows."""

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from data_contracts import validate_inputs
from flows.data_docs import (
    VENDOR_FILES,
    fill_bootstrap_tables,
    is_known,
    make_offline,
    remote_assets,
    rewrite_page,
)
from flows.quality_run import run_quality_suites

CYCLE = "2026-12"

HEAD = """<html><head>
<link rel="stylesheet" href="https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css">
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css" />
<style>.navbar-brand a { background: url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png') 0 0 no-repeat; }</style>
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css">
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" integrity="sha384-y" crossorigin="anonymous"></script>
<script src="https://cdn.example.org/something-new.js"></script>
<link rel="shortcut icon" href="../../../static/images/favicon.ico" type="image/x-icon"/>
</head><body>
<img
  class="NO-CACHE"
  src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20261202T170930Z"
  alt="Great Expectations"
/>
<a href="https://greatexpectations.io">Great Expectations</a>
<script>
  function inline() { return 1; }
</script>
</body></html>
"""  # noqa: E501

TABLE = """<div id="t-body-table-toolbar" class="ml-1">
    <button class="btn btn-sm btn-secondary ml-1" onclick="clearTableFilters('t-body-table')">Clear Filters</button>
</div>

<table
  id="t-body-table"
  class="table-sm ge-index-page-validation-results-table" 
  data-toggle="table"
>
</table>

<script>
  $('#t-body-table').bootstrapTable(
    Object.assign(
      {
        columns: [{'field': 'status', 'title': 'Status'}, {'field': 'run_time', 'title': 'Run Time', 'sortName': '_run_time_sort'}, {'field': 'suite', 'title': 'Expectation Suite'}],
        data: [{'status': '<i class="fas fa-check-circle"></i>', 'run_time': 'early', '_run_time_sort': 1.0, 'suite': '<a href="expectations/a.html">suite_a</a>', '_table_row_link_path': 'validations/a/cycle%3D2026-12/x.html'}, {'status': '<i class="fas fa-times-circle"></i>', 'run_time': 'late', '_run_time_sort': 2.0, 'suite': '<a href="expectations/b.html">suite_b</a>', '_table_row_link_path': 'validations/b/cycle%3D2026-12/y.html'}],
        toolbar: '#t-body-table-toolbar'
      },
      {'search': 'true', 'rowAttributes': 'rowAttributesLinks', 'sortName': 'run_time', 'sortOrder': 'desc', 'pagination': 'true'}
    )
  );

  $(document).ready(function() {
    $("#t-body-table").on('click-row.bs.table', function(e, row, $element) {
        window.location = $element.data("href");
      })
    }
  );
</script>
"""  # noqa: E501 W291


@pytest.mark.parametrize("depth", [0, 1, 4])
def test_cdn_assets_become_vendored_files_relative_to_the_page(depth: int) -> None:
    page = rewrite_page(HEAD, depth)
    up = "../" * depth
    vendor = f"{up}static/vendor"
    assert remote_assets(page) == []
    assert f'<link rel="stylesheet" href="{vendor}/bootstrap/css/bootstrap.min.css">' in page
    assert f'<script src="{vendor}/jquery/jquery.min.js"></script>' in page
    # Bootstrap's bundle replaces both bootstrap.js and popper; CDN hashes go with the CDN.
    assert page.count("<script src=") == 2
    assert f'<script src="{vendor}/bootstrap/js/bootstrap.bundle.min.js"></script>' in page
    assert "integrity" not in page and "crossorigin" not in page
    assert f'href="{vendor}/font-awesome/css/all.min.css"' in page
    # the logo keeps its other attributes; the dark-mode logo in CSS points at the same file
    logo = f"{vendor}/great_expectations/logo-long.png"
    assert f'src="{logo}"\n  alt="Great Expectations"' in page
    assert f"url('{logo}')" in page
    for gone in ("bootstrap-table", "bootstrap-dark", "vega", "popper", "something-new"):
        assert gone not in page, gone
    # GX writes some static/ links a folder too shallow; they follow the page's depth
    assert f'href="{up}static/images/favicon.ico"' in page
    assert '<a href="https://greatexpectations.io">' in page  # a link to follow, not an asset
    assert "function inline()" in page


def test_rewriting_is_idempotent() -> None:
    once = rewrite_page(HEAD + TABLE, 2)
    assert rewrite_page(once, 2) == once


def test_every_url_rule_points_at_a_vendored_file() -> None:
    from flows.data_docs import URL_RULES

    assert {t for _, t in URL_RULES if t} <= set(VENDOR_FILES)


def test_bootstrap_table_rows_are_written_into_the_table() -> None:
    page = fill_bootstrap_tables(TABLE)
    assert "bootstrapTable" not in page and "Clear Filters" not in page
    assert 'class="table table-hover table-sm ge-index-page-validation-results-table"' in page
    head = re.search(r"<thead>(.*?)</thead>", page, re.S)
    assert head is not None
    assert re.findall(r"<th>(.*?)</th>", head[1]) == ["Status", "Run Time", "Expectation Suite"]
    rows = re.findall(r'<tr class="clickable-row" data-href="([^"]+)"[^>]*>(.*?)</tr>', page)
    # sorted as the options ask: by the hidden sort key, newest first
    assert [link for link, _ in rows] == [
        "validations/b/cycle%3D2026-12/y.html",
        "validations/a/cycle%3D2026-12/x.html",
    ]
    assert '<td><a href="expectations/b.html">suite_b</a></td>' in rows[0][1]
    assert "querySelectorAll('#t-body-table tr[data-href]')" in page


def test_a_table_call_that_is_not_literal_data_is_left_alone() -> None:
    odd = TABLE.replace("data: [{'status'", "data: window.rows || [{'status'")
    assert fill_bootstrap_tables(odd) == odd


@pytest.fixture(scope="module")
def gx_site(tmp_path_factory: pytest.TempPathFactory, small_world) -> tuple[Path, Path]:
    """A site as GX writes it, and the same site made offline."""
    raw = tmp_path_factory.mktemp("gx") / "data_docs"
    tables = validate_inputs(small_world.tables, CYCLE).tables
    run_quality_suites(tables, CYCLE, raw, previous=small_world.tables)
    offline = raw.with_name("offline")
    offline.mkdir()
    for page in raw.rglob("*"):
        if page.is_file():
            (offline / page.relative_to(raw)).parent.mkdir(parents=True, exist_ok=True)
            (offline / page.relative_to(raw)).write_bytes(page.read_bytes())
    make_offline(offline)
    return raw, offline


def _local_links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    links = re.findall(r'\b(?:src|href)="([^"#][^"]*)"', text)
    return [u for u in links if not re.match(r"[a-z]+:", u)]


@pytest.mark.slow
def test_every_remote_asset_gx_writes_has_a_rule(gx_site: tuple[Path, Path]) -> None:
    raw, _ = gx_site
    urls = {u for page in raw.rglob("*.html") for u in remote_assets(page.read_text())}
    assert urls, "GX wrote no remote asset: the fixture no longer shows what it should"
    assert sorted(u for u in urls if not is_known(u)) == []


@pytest.mark.slow
def test_offline_site_loads_nothing_remote_and_every_local_link_resolves(
    gx_site: tuple[Path, Path],
) -> None:
    _, site = gx_site
    pages = sorted(site.rglob("*.html"))
    assert {p.relative_to(site).parts[0] for p in pages} == {
        "index.html", "expectations", "validations"
    }
    for page in pages:
        assert remote_assets(page.read_text()) == [], page
        for link in _local_links(page):
            target = page.parent / unquote(urlsplit(link).path)
            assert target.exists(), f"{page.relative_to(site)}: {link}"
    for target in VENDOR_FILES:
        assert (site / "static" / "vendor" / target).stat().st_size > 0


@pytest.mark.slow
def test_offline_index_lists_every_validation_without_javascript(
    gx_site: tuple[Path, Path],
) -> None:
    raw, site = gx_site
    index = (site / "index.html").read_text()
    assert "bootstrapTable" in (raw / "index.html").read_text()
    assert not re.search(r"\.bootstrapTable\(\s*Object", index)  # the plugin is not there
    suites = sorted(p.name for p in (raw / "validations").iterdir())
    assert len(suites) >= 3
    rows = re.findall(r'<tr class="clickable-row" data-href="validations/([^/"]+)/', index)
    assert sorted(rows) == suites


@pytest.mark.slow
def test_data_docs_keep_the_history_of_past_cycles(small_world, tmp_path: Path) -> None:
    """Runs that keep their results in one history folder: the second cycle's Data Docs list
    the first cycle's validations too (the run name says which cycle)."""
    history = tmp_path / "quality" / "validations"
    tables = validate_inputs(small_world.tables, CYCLE).tables
    first = tmp_path / "first" / "data_docs"
    run_quality_suites(tables, "2026-11", first, history_dir=history)
    second = tmp_path / "second" / "data_docs"
    run_quality_suites(tables, CYCLE, second, history_dir=history)
    make_offline(second)
    index = (second / "index.html").read_text()
    runs = set(re.findall(r"cycle=(\d{4}-\d{2})", index))
    assert runs == {"2026-11", CYCLE}, runs
    # Each cycle's validation pages are in the second run's site.
    pages = {p.parent.parent.name for p in (second / "validations").rglob("*.html")}
    assert {"cycle=2026-11", f"cycle={CYCLE}"} <= pages, pages
    # Without a history folder a run's site shows that run alone.
    alone = tmp_path / "alone" / "data_docs"
    run_quality_suites(tables, CYCLE, alone)
    make_offline(alone)
    assert set(re.findall(r"cycle=(\d{4}-\d{2})", (alone / "index.html").read_text())) == {
        CYCLE}
