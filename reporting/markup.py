"""Small HTML building blocks: escaped text, number formats and capped tables."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import pandas as pd


def esc(value: object) -> str:
    """Escape anything for HTML text and attribute values (quotes included)."""
    return escape("" if value is None else str(value), quote=True)


def is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def units(value: object) -> str:
    """1234567.8 -> '1,234,568'; missing -> '–'."""
    if is_missing(value):
        return "–"
    try:
        return f"{float(value):,.0f}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return esc(value)


def signed_units(value: object) -> str:
    if is_missing(value):
        return "–"
    return f"{float(value):+,.0f}"  # type: ignore[arg-type]


def percent(value: object, signed: bool = False, digits: int = 1) -> str:
    """0.123 -> '12.3%' ('+12.3%' when signed); NaN -> '–'."""
    if is_missing(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    if not math.isfinite(v):
        return "–"
    return f"{v * 100:+.{digits}f}%" if signed else f"{v * 100:.{digits}f}%"


def decimal(value: object, digits: int = 2) -> str:
    if is_missing(value):
        return "–"
    try:
        return f"{float(value):,.{digits}f}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return esc(value)


def readable_number(value: object) -> str:
    """A number of unknown meaning for people: whole numbers with separators, others with at
    most three decimals (0.9866125760649087 -> '0.987', 1234.5678 -> '1,235')."""
    if is_missing(value):
        return "–"
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return esc(value)
    if not math.isfinite(v):
        return "–"
    if v.is_integer():
        return f"{v:,.0f}"
    digits = 0 if abs(v) >= 1000 else 1 if abs(v) >= 100 else 2 if abs(v) >= 1 else 3
    text = f"{v:,.{digits}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text == "-0" else text


Formatter = Callable[[Any], str]


@dataclass(frozen=True)
class Col:
    """One table column: source column, header, formatter returning safe HTML, alignment."""

    name: str
    header: str
    fmt: Formatter | None = None  # None: the value is escaped as text
    num: bool = False  # right-aligned


def html_table(
    df: pd.DataFrame,
    columns: Sequence[Col],
    *,
    max_rows: int,
    total_rows: int | None = None,
    row_class: Callable[[pd.Series], str] | None = None,
) -> str:
    """A table showing at most max_rows rows, with a note on how many were left out."""
    shown = df.head(max_rows)
    total = len(df) if total_rows is None else total_rows
    if shown.empty:
        return '<p class="empty">Nothing to show.</p>'
    head = "".join(
        f'<th class="num">{esc(c.header)}</th>' if c.num else f"<th>{esc(c.header)}</th>"
        for c in columns
    )
    body: list[str] = []
    for _, row in shown.iterrows():  # capped at max_rows: small by construction
        cells = []
        for c in columns:
            value = row[c.name] if c.name in row.index else None
            content = c.fmt(value) if c.fmt else esc("" if is_missing(value) else value)
            cells.append(f'<td class="num">{content}</td>' if c.num else f"<td>{content}</td>")
        cls = row_class(row) if row_class else ""
        attr = f' class="{esc(cls)}"' if cls else ""
        body.append(f"<tr{attr}>{''.join(cells)}</tr>")
    note = ""
    if total > len(shown):
        note = f'<p class="note">Showing the top {len(shown):,} of {total:,} rows.</p>'
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="wide">{table}</div>{note}'


MONTHS_PER_ROW = 12


def month_grid(
    row_header: str,
    rows: pd.DataFrame,
    fmt: Formatter,
    *,
    months_per_row: int = MONTHS_PER_ROW,
) -> str:
    """A row label x month table, cut into blocks of `months_per_row` months (a year).

    `rows` has the row labels as index and one column per month, in order. However long the
    horizon, each block fits a laptop screen: a long horizon adds blocks below, never columns
    hidden behind a horizontal scroll.
    """
    if rows.empty or not len(rows.columns):
        return '<p class="empty">Nothing to show.</p>'
    blocks = []
    months = list(rows.columns)
    for start in range(0, len(months), months_per_row):
        chunk = months[start : start + months_per_row]
        head = "".join(f'<th class="num">{esc(m)}</th>' for m in chunk)
        body = "".join(
            f"<tr><td>{esc(label)}</td>"
            + "".join(f'<td class="num">{fmt(v)}</td>' for v in values)
            + "</tr>"
            for label, values in zip(rows.index, rows[chunk].to_numpy(), strict=True)
        )
        blocks.append(
            f'<table class="months"><thead><tr><th>{esc(row_header)}</th>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )
    return "".join(blocks)


def html_page(
    *, title: str, subtitle: str, sections: dict[str, str], bodies: dict[str, str],
    footer: str, css: str,
) -> str:
    """A complete self-contained page: header with a section index, sections, footer.

    `sections` maps section id -> heading, `bodies` section id -> inner HTML (already escaped);
    `subtitle` and `footer` are plain text and are escaped here.
    """
    nav = "".join(f'<li><a href="#{sid}">{esc(head)}</a></li>' for sid, head in sections.items())
    main = "".join(
        f'<section id="{sid}"><h2>{esc(sections[sid])}</h2>{body}</section>'
        for sid, body in bodies.items()
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Belt and braces: even if some markup slipped through, the browser may not fetch anything.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(title)}</title><style>{css}</style></head><body>"
        f'<header><h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>'
        f"<nav><ol>{nav}</ol></nav></header>"
        f"<main>{main}</main>"
        f"<footer>{esc(footer)} Self-contained: no external resources.</footer>"
        "</body></html>\n"
    )
