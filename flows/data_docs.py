"""great-expectations Data Docs that open offline: vendored assets, no CDN, tables in the HTML.

GX writes pages that load jQuery, Bootstrap, Font Awesome, bootstrap-table, a date picker,
Vega and a logo from CDNs and S3; opened without network they show unstyled and the index
shows no validation at all, because bootstrap-table builds its tables from inline data.
`make_offline` runs after GX has written a site:
1. it copies the files that installed packages ship (XStatic-jQuery, XStatic-Bootstrap,
   XStatic-Font-Awesome, GX's own logo) into `static/vendor/`;
2. it points every page at them by a path relative to that page;
3. it drops the tags of assets no package ships (bootstrap-table, the date picker, Vega,
   the dark theme), and of any remote asset it does not know;
4. it writes the rows bootstrap-table would have built into the index's tables.
A page so rewritten loads nothing from the network and needs no plugin to show its tables.
"""

import ast
import html
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

VENDOR_DIR = "static/vendor"
_FONTS = ("fa-brands-400", "fa-regular-400", "fa-solid-900", "fa-v4compatibility")

# File under static/vendor/ -> (package that ships it, path inside the package).
VENDOR_FILES: dict[str, tuple[str, str]] = {
    "jquery/jquery.min.js": ("xstatic.pkg.jquery", "data/jquery.min.js"),
    "bootstrap/css/bootstrap.min.css": ("xstatic.pkg.bootstrap", "data/css/bootstrap.min.css"),
    # The bundle carries Popper, which GX loads on its own.
    "bootstrap/js/bootstrap.bundle.min.js": (
        "xstatic.pkg.bootstrap", "data/js/bootstrap.bundle.min.js"
    ),
    "font-awesome/css/all.min.css": ("xstatic.pkg.font_awesome", "data/css/all.min.css"),
    "font-awesome/LICENSE.txt": ("xstatic.pkg.font_awesome", "data/LICENSE.txt"),
    # all.min.css asks for woff2 first; every browser that runs Bootstrap 4 reads it.
    **{
        f"font-awesome/webfonts/{font}.woff2": (
            "xstatic.pkg.font_awesome", f"data/webfonts/{font}.woff2"
        )
        for font in _FONTS
    },
    "great_expectations/logo-long.png": (
        "great_expectations.render.view", "static/images/logo-long.png"
    ),
}

# A remote asset URL (searched, first match wins) -> its file under static/vendor/,
# or None: no installed package ships it, and the page does without it.
URL_RULES: list[tuple[re.Pattern[str], str | None]] = [
    (re.compile(r"//code\.jquery\.com/jquery-3\.[\d.]+(\.min)?\.js$"), "jquery/jquery.min.js"),
    (re.compile(r"/bootstrap/4\.[\d.]+/css/bootstrap(\.min)?\.css$"),
     "bootstrap/css/bootstrap.min.css"),
    (re.compile(r"/bootstrap/4\.[\d.]+/js/bootstrap(\.min)?\.js$"),
     "bootstrap/js/bootstrap.bundle.min.js"),
    (re.compile(r"/popper\.js/1\.[\d.]+/"), None),  # inside Bootstrap's bundle
    (re.compile(r"/font-awesome/6\.[\d.]+/css/all(\.min)?\.css$"),
     "font-awesome/css/all.min.css"),
    (re.compile(r"//great-expectations-web-assets\.[^/]+/[\w-]*logo[\w-]*\.png(\?|$)"),
     "great_expectations/logo-long.png"),
    (re.compile(r"/bootstrap-table@|/bootstrap-datepicker/|/bootstrap-dark@|/npm/vega"), None),
]

_REMOTE_ATTR = re.compile(r'\b(?:src|href)="(https?://[^"]*)"')
_ASSET_TAG = re.compile(
    r"<(?P<name>script|link|img)\b(?P<attrs>[^>]*)>(?:\s*</script>)?[ \t]*\n?",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"""url\((?P<q>['"]?)(?P<url>https?://[^)'"]*)(?P=q)\)""")
# GX's own static/ links, some one folder too shallow (validation pages sit four deep).
_STATIC_LINK = re.compile(r'(?P<attr>\b(?:src|href)=")(?:\./|(?:\.\./)+)static/')
_BOOTSTRAP_TABLE = re.compile(
    r"<script>\s*\$\('#(?P<id>[\w-]+)'\)\.bootstrapTable\(\s*Object\.assign\(\s*\{\s*"
    r"columns: (?P<columns>[^\n]*),\n\s*data: (?P<data>[^\n]*),\n\s*toolbar: '[^']*'\s*\},\s*"
    r"(?P<options>\{[^\n]*\})\s*\)\s*\);(?P<rest>.*?)</script>[ \t]*\n?",
    re.DOTALL,
)
_TITLE_ROW = re.compile(r"\.prepend\('(?P<row>.*?)'\);", re.DOTALL)


def vendored(url: str) -> str | None:
    """The file under static/vendor/ that replaces remote asset `url`; None: drop its tag."""
    return next((target for pattern, target in URL_RULES if pattern.search(url)), None)


def is_known(url: str) -> bool:
    """Whether a rule of URL_RULES decides what becomes of remote asset `url`."""
    return any(pattern.search(url) for pattern, _ in URL_RULES)


def remote_assets(page: str) -> list[str]:
    """Every http(s) URL that `page` would load: script, stylesheet, image, CSS url()."""
    tags = [u for m in _ASSET_TAG.finditer(page) for u in _REMOTE_ATTR.findall(m["attrs"])]
    return tags + [m["url"] for m in _CSS_URL.finditer(page)]


def rewrite_page(page: str, depth: int) -> str:
    """Return Data Docs page `page` (HTML text) with every remote asset made local or dropped.

    `depth` is how many folders below the site's root the page sits (0 for index.html):
    links to static/ are written relative to it. Tables bootstrap-table would fill from
    inline data get their rows in the HTML. Rewriting a rewritten page changes nothing.
    """
    prefix = "../" * depth
    vendor = f"{prefix}{VENDOR_DIR}/"

    def tag(m: re.Match[str]) -> str:
        remote = _REMOTE_ATTR.search(m["attrs"])
        if remote is None:
            return m[0]
        target = vendored(remote[1])
        if target is None:
            return ""
        name = m["name"].lower()
        if name == "script":  # integrity and crossorigin hashes belong to the CDN's file
            return f'<script src="{vendor}{target}"></script>\n'
        if name == "link":
            return f'<link rel="stylesheet" href="{vendor}{target}">\n'
        return m[0].replace(remote[1], vendor + target)

    def css_url(m: re.Match[str]) -> str:
        target = vendored(m["url"])
        return f"url('{vendor}{target}')" if target else "none"

    page = _ASSET_TAG.sub(tag, page)
    page = _CSS_URL.sub(css_url, page)
    page = _STATIC_LINK.sub(lambda m: f"{m['attr']}{prefix}static/", page)
    return fill_bootstrap_tables(page)


def fill_bootstrap_tables(page: str) -> str:
    """Return `page` with the rows of every bootstrap-table call written into its <table>.

    GX leaves such a table empty and passes columns, rows and options to the plugin in a
    script. Here the rows become <tbody> (sorted as the options ask), the header <thead>,
    the filter toolbar goes (its button drives the plugin), and the script is replaced by
    one that makes linked rows clickable, as the plugin did.
    """
    for call in list(_BOOTSTRAP_TABLE.finditer(page)):
        table_id = call["id"]
        try:
            columns = ast.literal_eval(call["columns"])
            rows = ast.literal_eval(call["data"])
            options = ast.literal_eval(call["options"])
        except (ValueError, SyntaxError):
            continue  # not the literals GX writes: leave this table to the plugin
        table = re.search(
            rf'<table\s+id="{re.escape(table_id)}"(?P<attrs>[^>]*)>\s*</table>', page
        )
        if table is None:
            continue
        title = _TITLE_ROW.search(call["rest"])
        linked = options.get("rowAttributes") == "rowAttributesLinks"
        body = _table_body(
            columns, _sorted_rows(rows, columns, options), linked, title["row"] if title else None
        )
        filled = f'<table id="{table_id}"{_with_table_class(table["attrs"])}>{body}</table>'
        page = page[: table.start()] + filled + page[table.end() :]
        page = re.sub(
            rf'<div id="{re.escape(table_id)}-toolbar"[^>]*>.*?</div>[ \t]*\n?', "", page,
            count=1, flags=re.DOTALL,
        )
        page = page.replace(call[0], _row_links_script(table_id) if linked else "", 1)
    return page


def _with_table_class(attrs: str) -> str:
    # bootstrap-table adds Bootstrap's table classes itself; without it the page must.
    if 'class="' not in attrs:
        return f' class="table table-hover"{attrs}'
    return attrs.replace('class="', 'class="table table-hover ', 1)


def _sort_key(value: Any) -> tuple[int, float, str]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, "" if value is None else str(value))


def _sorted_rows(
    rows: list[dict[str, Any]], columns: list[dict[str, Any]], options: dict[str, Any]
) -> list[dict[str, Any]]:
    field = options.get("sortName")
    if not field:
        return rows
    column = next((c for c in columns if c.get("field") == field), {})
    key = column.get("sortName", field)
    descending = str(options.get("sortOrder", "asc")).lower() == "desc"
    return sorted(rows, key=lambda row: _sort_key(row.get(key)), reverse=descending)


def _cell(value: Any) -> str:
    # bootstrap-table writes a string as HTML (GX renders its cells to HTML); others as text.
    if isinstance(value, str):
        return value.strip()
    return "-" if value is None else html.escape(str(value))


def _table_body(
    columns: list[dict[str, Any]], rows: list[dict[str, Any]], linked: bool, title: str | None
) -> str:
    head = "".join(f"<th>{c.get('title', c['field'])}</th>" for c in columns)
    lines = ["", "<thead>", *([title] if title else []), f"<tr>{head}</tr>", "</thead>", "<tbody>"]
    for row in rows:
        link = row.get("_table_row_link_path") if linked else None
        attrs = (
            f' class="clickable-row" data-href="{html.escape(link)}" style="cursor: pointer"'
            if link else ""
        )
        cells = "".join(f"<td>{_cell(row.get(c['field']))}</td>" for c in columns)
        lines.append(f"<tr{attrs}>{cells}</tr>")
    lines += ["</tbody>", ""]
    return "\n".join(lines)


def _row_links_script(table_id: str) -> str:
    return (
        "<script>\n"
        f"  document.querySelectorAll('#{table_id} tr[data-href]').forEach(function (row) {{\n"
        "    row.addEventListener('click', function (event) {\n"
        "      if (!event.target.closest('a')) window.location = row.dataset.href;\n"
        "    });\n"
        "  });\n"
        "</script>\n"
    )


def make_offline(docs_dir: str | Path) -> None:
    """Copy the vendored assets into the Data Docs site `docs_dir` and rewrite its pages.

    Does nothing when `docs_dir` holds no site (GX wrote no index.html).
    """
    root = Path(docs_dir)
    if not (root / "index.html").is_file():
        return
    for target, (package, name) in VENDOR_FILES.items():
        dest = root / VENDOR_DIR / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((files(package) / name).read_bytes())
    for page in sorted(root.rglob("*.html")):
        depth = len(page.relative_to(root).parts) - 1
        text = page.read_text(encoding="utf-8")
        page.write_text(rewrite_page(text, depth), encoding="utf-8")

