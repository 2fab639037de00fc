/** The page's styles: cards in a grid that folds to one column on a phone. */
export const STYLE_CSS = `
:root { --bg: #f6f7f9; --card: #fff; --ink: #1d232b; --muted: #6b7480; --line: #e3e6ea;
  --up: #1a7f37; --degraded: #b7791f; --down: #c62828; --hot: #fff1e0; --bar: #3b82f6; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--ink); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; padding: 10px 16px; background: #1d232b; color: #fff; }
header h1 { font-size: 16px; margin: 0; }
nav { display: flex; gap: 6px; flex-wrap: wrap; }
nav button { background: #2f3945; color: #fff; border: 0; border-radius: 4px; padding: 4px 10px; cursor: pointer; }
nav button[aria-current="true"] { background: #3b82f6; }
.conn { margin-left: auto; font-size: 12px; color: #aab4bf; }
main { padding: 12px; display: grid; gap: 12px; max-width: 1280px; margin: 0 auto; }
.cards, .charts { display: grid; gap: 12px; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 0; }
.card h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; margin: 0 0 8px; color: var(--muted); }
.muted { color: var(--muted); font-weight: normal; text-transform: none; letter-spacing: 0; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; font-variant-numeric: tabular-nums; text-align: right; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff; background: var(--muted); font-weight: 600; }
.badge.up { background: var(--up); } .badge.degraded { background: var(--degraded); } .badge.down { background: var(--down); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 3px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
tr.hot { background: var(--hot); font-weight: 600; }
tr.retiring { color: var(--muted); font-style: italic; }
.bar { display: inline-block; width: 80px; height: 8px; background: var(--line); border-radius: 4px; vertical-align: middle; margin-right: 6px; overflow: hidden; }
.bar i { display: block; height: 100%; background: var(--bar); }
.bar.high i { background: var(--down); }
.no-heap .heap { display: none; }
.chart { min-height: 150px; }
.timeline { list-style: none; margin: 0; padding: 0; max-height: 280px; overflow-y: auto; }
.timeline li { padding: 4px 0; border-bottom: 1px solid var(--line); }
.timeline time { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: 6px; }
.dir { display: inline-block; min-width: 3.5em; font-weight: 600; }
.dir.up { color: var(--up); } .dir.down { color: var(--down); } .dir.hold { color: var(--muted); }
.inputs { display: block; color: var(--muted); font-size: 12px; word-break: break-word; }
.skipped { color: var(--degraded); }
form { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-bottom: 8px; }
input { font: inherit; padding: 4px 6px; border: 1px solid var(--line); border-radius: 4px; min-width: 0; }
input[type="number"] { width: 5em; }
button { font: inherit; padding: 4px 10px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
@media (min-width: 900px) { .wide { grid-column: span 2; } }
@media (max-width: 600px) { main { padding: 8px; } th, td { padding: 3px 4px; } .bar { width: 48px; } }
`;
