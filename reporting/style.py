"""The report's stylesheet: inline, system fonts only (no web fonts to fetch), with print rules."""

CSS = """
:root { --fg:#212529; --muted:#6c757d; --line:#dee2e6; --bg:#fff; --band:#f8f9fa;
  --ok:#2b8a3e; --warn:#e67700; --err:#c92a2a; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: var(--fg); background: var(--bg); margin: 0; line-height: 1.4;
  font-size: 14px; }
header, main { max-width: 1200px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; border-bottom: 2px solid var(--fg); }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
nav ol { display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 0; margin: 8px 0 10px;
  list-style: none; }
nav a { color: #1864ab; text-decoration: none; }
.sub { color: var(--muted); margin: 0 0 8px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 10px;
  margin: 10px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px;
  background: var(--band); }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .03em; }
.card .v { font-size: 20px; font-weight: 600; }
.card .d { font-size: 12px; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }  /* numbers stay whole; long headers wrap to fit 1280 px */
tr.error td:first-child { border-left: 4px solid var(--err); }
tr.warning td:first-child { border-left: 4px solid var(--warn); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; border: 1px solid currentColor; }
.badge.ok, .badge.passed { color: var(--ok); }
.badge.overtime, .badge.warning, .badge.warnings { color: var(--warn); }
.badge.short, .badge.error, .badge.failed { color: var(--err); }
.badge.info, .badge.unknown { color: var(--muted); }
.neg { color: var(--err); } .pos { color: var(--ok); }
.note, .empty { color: var(--muted); font-size: 12px; margin: 2px 0 8px; }
.wide { overflow-x: auto; } .nw { white-space: nowrap; }
table.months { width: auto; }  /* a year per block: see markup.month_grid */
svg.chart { display: block; margin: 6px 0 12px; height: auto; }
svg .grid { stroke: #e9ecef; stroke-width: 1; } svg .frame { fill: none; stroke: #adb5bd; }
svg .marker { stroke: #868e96; stroke-dasharray: 3 3; }
svg .sep { stroke: #495057; stroke-width: 1.5; }
svg text { font-family: inherit; fill: #343a40; }
svg .tick { font-size: 11px; } svg .legend { font-size: 12px; }
svg .cell { font-size: 11px; } svg .rowlabel { font-size: 12px; }
.legendbar { display: flex; gap: 6px; align-items: center; font-size: 12px; color: var(--muted);
  flex-wrap: wrap; }
.legendbar span.sw { display: inline-block; width: 26px; height: 12px; border: 1px solid #ced4da; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr));
  gap: 8px 20px; }
.skuchart h3 { font-size: 14px; margin-bottom: 0; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; }
dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; }
footer { max-width: 1200px; margin: 30px auto 20px; padding: 0 20px; color: var(--muted);
  font-size: 12px; }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { font-size: 11px; } nav { display: none; }
  header, main, footer { max-width: none; padding: 0; }
  .wide { overflow: visible; }
  svg.chart, table, .card, .skuchart { break-inside: avoid; }
  h2, h3 { break-after: avoid; } a { color: inherit; text-decoration: none; }
  .grid2 { grid-template-columns: 1fr 1fr; }
}
"""
