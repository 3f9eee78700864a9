"""Inline SVG charts drawn in Python: a line chart with interval bands and a heatmap.

No JavaScript and no external assets, so the report renders offline, prints, and
cannot leak a request. Every label goes through `html.escape`: SKU names are user data.
"""

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

# Tableau-like palette that stays distinguishable in grayscale thanks to the dash patterns.
COLOR_SALES = "#d9480f"
COLOR_BASELINE = "#5f3dc4"
COLOR_CONSENSUS = "#2b8a3e"
COLOR_CONSTRAINED = "#212529"
COLOR_HISTORY = "#495057"


@dataclass(frozen=True)
class Line:
    name: str
    values: Sequence[float | None]  # one per x label; None/NaN breaks the line
    color: str
    dash: str | None = None  # SVG stroke-dasharray
    width: float = 2.0


# Constrained demand equals consensus wherever capacity serves it all, so one line would hide
# the other: consensus is drawn wide and beneath, constrained thin and on top of it.
CONSENSUS_LABEL = "Consensus (wide line)"
CONSTRAINED_LABEL = "Constrained (thin line on top)"
CONSENSUS_WIDTH = 5.0
CONSTRAINED_WIDTH = 1.5


def consensus_lines(
    consensus: Sequence[float | None], constrained: Sequence[float | None] | None
) -> list[Line]:
    """The consensus line, and the constrained line drawn over it (None leaves it out)."""
    lines = [Line(CONSENSUS_LABEL, consensus, COLOR_CONSENSUS, None, CONSENSUS_WIDTH)]
    if constrained is not None:
        lines.append(
            Line(CONSTRAINED_LABEL, constrained, COLOR_CONSTRAINED, None, CONSTRAINED_WIDTH)
        )
    return lines


@dataclass(frozen=True)
class Band:
    name: str
    lo: Sequence[float | None]
    hi: Sequence[float | None]
    color: str
    opacity: float = 0.15


def _clean(values: Sequence[float | None]) -> list[float | None]:
    """Floats, with None for missing or non-finite values (NaN from pandas included)."""
    out: list[float | None] = []
    for v in values:
        f = float(v) if isinstance(v, int | float) else math.nan
        out.append(f if math.isfinite(f) else None)
    return out


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1-2-5 steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    # Integer multiples of the step: accumulating floats would drift and miss the top.
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    ticks = [round(k * step, 10) for k in range(first, last + 1)]
    return ticks


def format_number(v: float) -> str:
    """Compact axis label: 1.2k, 3.4M."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.1f}M".replace(".0M", "M")
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 1e3:
        return f"{v / 1e3:.1f}k".replace(".0k", "k")
    return f"{v:.0f}" if a >= 10 or v == 0 else f"{v:.1f}"


def _y_grid(ticks: Sequence[float], sy: Callable[[float], float], left: float, pw: float,
            tick_format: Callable[[float], str]) -> list[str]:
    """Horizontal grid lines and y-axis labels at `ticks`."""
    out = []
    for t in ticks:
        y = sy(t)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
                   f"{escape(tick_format(t))}</text>")
    return out


def _path(points: list[tuple[float, float] | None]) -> str:
    """SVG path data; None splits the path so gaps stay gaps."""
    parts: list[str] = []
    pen_up = True
    for p in points:
        if p is None:
            pen_up = True
            continue
        parts.append(f"{'M' if pen_up else 'L'}{p[0]:.1f},{p[1]:.1f}")
        pen_up = False
    return "".join(parts)


def _legend_positions(names: Sequence[str], left: int, width: int) -> list[tuple[int, int]]:
    """(x, row) of each legend entry, wrapping greedily when the next one would not fit."""
    out, x, row = [], left, 0
    for name in names:
        step = 34 + 7 * len(name)
        if x + step > width and x > left:
            x, row = left, row + 1
        out.append((x, row))
        x += step
    return out


def line_chart(
    x_labels: Sequence[str],
    lines: Sequence[Line],
    bands: Sequence[Band] = (),
    *,
    title: str,
    width: int = 900,
    height: int = 300,
    marker_x: str | None = None,
    marker_label: str = "",
    zero_based: bool = True,
    tick_format: Callable[[float], str] = format_number,
) -> str:
    """A line chart over categorical x (months) with optional shaded bands and a vertical marker.

    `zero_based=False` fits the y axis to the data: totals of similar size would otherwise
    look like one line, and the gaps between them are what the meeting discusses.
    """
    left, right, bottom, legend_row = 64, 16, 58, 16
    items: list[Line | Band] = [*lines, *bands]
    positions = _legend_positions([it.name for it in items], left, width)
    top = 16 + legend_row * (max((r for _, r in positions), default=0) + 1)
    pw, ph = width - left - right, height - top - bottom
    n = len(x_labels)
    series = [_clean(ln.values) for ln in lines]
    band_lo = [_clean(b.lo) for b in bands]
    band_hi = [_clean(b.hi) for b in bands]
    values = [v for vs in (*series, *band_lo, *band_hi) for v in vs if v is not None]
    if values and not zero_based:
        pad = (max(values) - min(values)) * 0.1 or abs(max(values)) * 0.1 or 1.0
        vmin = min(values) - pad
    else:
        vmin = min(0.0, *values) if values else 0.0
    vmax = max(values) if values else 1.0
    ticks = nice_ticks(vmin, vmax if vmax > vmin else vmin + 1.0)
    y0, y1 = ticks[0], ticks[-1]

    def sx(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def sy(v: float) -> float:
        return top + ph - (v - y0) / (y1 - y0) * ph

    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    out += _y_grid(ticks, sy, left, pw, tick_format)
    step = max(1, math.ceil(n / 12))  # at most ~12 month labels
    for i in range(0, n, step):
        x = sx(i)
        out.append(
            f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="end" class="tick" '
            f'transform="rotate(-35 {x:.1f} {top + ph + 16})">{escape(str(x_labels[i]))}</text>'
        )
    if marker_x is not None and marker_x in x_labels:
        x = sx(list(x_labels).index(marker_x))
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" class="marker"/>')
        if marker_label:
            out.append(
                f'<text x="{x + 4:.1f}" y="{top + 10}" class="tick">{escape(marker_label)}</text>'
            )
    for b, lo, hi in zip(bands, band_lo, band_hi, strict=True):
        upper = [(sx(i), sy(v)) for i, v in enumerate(hi) if v is not None]
        lower = [(sx(i), sy(v)) for i, v in enumerate(lo) if v is not None]
        if upper and lower:
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in upper + lower[::-1])
            out.append(
                f'<polygon points="{pts}" fill="{escape(b.color)}" fill-opacity="{b.opacity}" '
                f'stroke="none"><title>{escape(b.name)}</title></polygon>'
            )
    for ln, vals in zip(lines, series, strict=True):
        path_pts = [(sx(i), sy(v)) if v is not None else None for i, v in enumerate(vals)]
        dash = f' stroke-dasharray="{escape(ln.dash)}"' if ln.dash else ""
        d = _path(path_pts)
        if d:
            out.append(
                f'<path d="{d}" fill="none" stroke="{escape(ln.color)}" stroke-width="{ln.width}"'
                f"{dash}><title>{escape(ln.name)}</title></path>"
            )
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="frame"/>')
    # Legend on top, one entry per series, wrapping onto a second row in narrow charts.
    for item, (x, row) in zip(items, positions, strict=True):
        y = 12 + row * legend_row
        label = escape(item.name)
        if isinstance(item, Line):
            dash = f' stroke-dasharray="{escape(item.dash)}"' if item.dash else ""
            out.append(
                f'<line x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}" stroke="{escape(item.color)}" '
                f'stroke-width="{item.width}"{dash}/>'
            )
        else:
            out.append(
                f'<rect x="{x}" y="{y - 6}" width="22" height="12" fill="{escape(item.color)}" '
                f'fill-opacity="{item.opacity * 2:.2f}"/>'
            )
        out.append(f'<text x="{x + 26}" y="{y + 4}" class="legend">{label}</text>')
    out.append("</svg>")
    return "".join(out)


def utilisation_color(u: float | None) -> str:
    """White -> green -> amber -> red as utilisation goes 0 -> 80% -> 100% -> 125%+."""
    if u is None or not math.isfinite(u):
        return "#f1f3f5"
    stops = [
        (0.0, (235, 251, 238)),
        (0.8, (140, 233, 154)),
        (1.0, (255, 212, 59)),
        (1.25, (240, 62, 62)),
    ]
    u = max(0.0, min(u, stops[-1][0]))
    for (u0, c0), (u1, c1) in itertools.pairwise(stops):
        if u <= u1:
            f = (u - u0) / (u1 - u0)
            rgb = tuple(round(a + (b - a) * f) for a, b in zip(c0, c1, strict=True))
            return "#{:02x}{:02x}{:02x}".format(*rgb)
    return "#f03e3e"


@dataclass(frozen=True)
class HeatRow:
    label: str
    values: Sequence[float | None]  # utilisation, 1.0 = at capacity
    marks: Sequence[str]  # "" / "overtime" / "short" per column
    group_start: bool = False  # draw a separator above (a new warehouse)


def heatmap(cols: Sequence[str], rows: Sequence[HeatRow], *, title: str, cell_w: int = 44) -> str:
    """Utilisation heatmap: one row per warehouse x resource, one column per month."""
    left, top, cell_h = 190, 52, 22
    width = left + cell_w * len(cols) + 10
    height = top + cell_h * len(rows) + 10
    out = [
        f'<svg class="chart heatmap" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'style="max-width:{width}px">',
        f"<title>{escape(title)}</title>",
    ]
    for j, c in enumerate(cols):
        x = left + j * cell_w + cell_w / 2
        out.append(
            f'<text x="{x:.1f}" y="{top - 8}" text-anchor="start" class="tick" '
            f'transform="rotate(-45 {x:.1f} {top - 8})">{escape(str(c))}</text>'
        )
    for i, row in enumerate(rows):
        y = top + i * cell_h
        if row.group_start and i:
            out.append(f'<line x1="0" x2="{width}" y1="{y}" y2="{y}" class="sep"/>')
        out.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" class="rowlabel">'
            f"{escape(row.label)}</text>"
        )
        for j, v in enumerate(row.values):
            x = left + j * cell_w
            mark = row.marks[j] if j < len(row.marks) else ""
            text = f"{v * 100:.0f}" if v is not None and math.isfinite(v) else "–"
            tip = f"{row.label} {cols[j]}: {text}%" + (f" ({mark})" if mark else "")
            stroke = ' stroke="#c92a2a" stroke-width="2.5"' if mark == "short" else ' stroke="#fff"'
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" '
                f'fill="{utilisation_color(v)}"{stroke}><title>{escape(tip)}</title></rect>'
            )
            if mark == "overtime":  # a dark corner flag: visible in colour and in grayscale print
                out.append(
                    f'<polygon points="{x + cell_w - 9},{y} {x + cell_w},{y} {x + cell_w},{y + 9}" '
                    'fill="#862e9c"/>'
                )
            weight = ' font-weight="bold"' if mark else ""
            suffix = "!" if mark == "short" else ""
            out.append(
                f'<text x="{x + cell_w / 2:.1f}" y="{y + 15}" text-anchor="middle" '
                f'class="cell"{weight}>'
                f"{escape(text + suffix)}</text>"
            )
    out.append("</svg>")
    return "".join(out)


COLOR_NAIVE = "#868e96"


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar
    value: float | None  # None/NaN draws no bar
    color: str
    value_label: str = ""  # above the bar
    note: str = ""  # second line under the label
    note_color: str | None = None  # e.g. red for a loss


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    tick_format: Callable[[float], str] = format_number,
    width: int = 560,
    height: int = 250,
) -> str:
    """Vertical bars from zero, one per category (e.g. the FVA stair-step, WAPE per step)."""
    left, right, top, bottom = 56, 16, 22, 50
    pw, ph = width - left - right, height - top - bottom
    values = [v for v in _clean([b.value for b in bars]) if v is not None]
    ticks = nice_ticks(0.0, max([*values, 0.0]) or 1.0, 4)
    y0, y1 = ticks[0], ticks[-1]

    def sy(v: float) -> float:
        return top + ph - (v - y0) / (y1 - y0) * ph

    slot = pw / max(len(bars), 1)
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'style="max-width:{width}px">',
        f"<title>{escape(title)}</title>",
    ]
    out += _y_grid(ticks, sy, left, pw, tick_format)
    for i, (bar, v) in enumerate(zip(bars, _clean([b.value for b in bars]), strict=True)):
        cx = left + slot * (i + 0.5)
        if v is not None:
            y = sy(max(v, y0))
            out.append(
                f'<rect x="{cx - slot * 0.3:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" '
                f'height="{top + ph - y:.1f}" fill="{escape(bar.color)}">'
                f"<title>{escape(f'{bar.label}: {bar.value_label}')}</title></rect>"
            )
            if bar.value_label:
                out.append(
                    f'<text x="{cx:.1f}" y="{y - 5:.1f}" text-anchor="middle" class="legend">'
                    f"{escape(bar.value_label)}</text>"
                )
        out.append(
            f'<text x="{cx:.1f}" y="{top + ph + 17}" text-anchor="middle" class="legend">'
            f"{escape(bar.label)}</text>"
        )
        if bar.note:
            fill = f' style="fill:{escape(bar.note_color)}"' if bar.note_color else ""
            out.append(
                f'<text x="{cx:.1f}" y="{top + ph + 34}" text-anchor="middle" class="tick"'
                f"{fill}>{escape(bar.note)}</text>"
            )
    out.append(
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" class="frame"/>'
    )
    out.append("</svg>")
    return "".join(out)


COLOR_UP = "#2b8a3e"
COLOR_DOWN = "#c92a2a"
COLOR_TOTAL = "#495057"


@dataclass(frozen=True)
class WaterfallStep:
    label: str
    units: float  # a total's level, or a change's delta
    is_total: bool


def waterfall_chart(
    steps: Sequence[WaterfallStep],
    *,
    title: str,
    width: int = 900,
    height: int = 280,
) -> str:
    """Floating bars: totals from zero, each change from the running level to the next one.

    A change's bar hangs from where the previous bar ended (green up, red down), so the chart
    reads left to right from last cycle's total to this one's; labels carry the signed units.
    """
    left, right, top, bottom = 64, 16, 24, 50
    pw, ph = width - left - right, height - top - bottom
    spans: list[tuple[float, float]] = []
    level = 0.0
    for s in steps:
        u = s.units if math.isfinite(s.units) else 0.0
        if s.is_total:
            level = u
            spans.append((0.0, u))
        else:
            spans.append((level, level + u))
            level += u
    ends = [v for span in spans for v in span]
    ticks = nice_ticks(min([*ends, 0.0]), max([*ends, 0.0]) or 1.0, 5)
    y0, y1 = ticks[0], ticks[-1]

    def sy(v: float) -> float:
        return top + ph - (v - y0) / ((y1 - y0) or 1.0) * ph

    slot = pw / max(len(steps), 1)
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'style="max-width:{width}px">',
        f"<title>{escape(title)}</title>",
    ]
    out += _y_grid(ticks, sy, left, pw, format_number)
    for i, (s, (a, b)) in enumerate(zip(steps, spans, strict=True)):
        cx = left + slot * (i + 0.5)
        color = COLOR_TOTAL if s.is_total else COLOR_UP if b >= a else COLOR_DOWN
        y_top, y_bottom = sy(max(a, b)), sy(min(a, b))
        text = format_number(s.units) if s.is_total else (
            ("+" if s.units >= 0 else "") + format_number(s.units))
        out.append(
            f'<rect x="{cx - slot * 0.32:.1f}" y="{y_top:.1f}" width="{slot * 0.64:.1f}" '
            f'height="{max(y_bottom - y_top, 1.0):.1f}" fill="{color}">'
            f"<title>{escape(f'{s.label}: {text}')}</title></rect>")
        out.append(f'<text x="{cx:.1f}" y="{y_top - 5:.1f}" text-anchor="middle" '
                   f'class="legend">{escape(text)}</text>')
        out.append(f'<text x="{cx:.1f}" y="{top + ph + 17}" text-anchor="middle" '
                   f'class="tick">{escape(s.label)}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(0.0):.1f}" y2="{sy(0.0):.1f}" '
               'class="frame"/>')
    out.append("</svg>")
    return "".join(out)
