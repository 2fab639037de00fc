/** The page: static markup the script fills in. `base` arrives escaped for an attribute. */
export const pageHtml = (base: string, actions: boolean) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<base href="${base}">
<title>Worker pool</title>
<link rel="stylesheet" href="assets/uplot.css">
<link rel="stylesheet" href="assets/style.css">
<link rel="icon" href="data:,">
</head>
<body data-actions="${actions}">
<header>
  <h1>Worker pool</h1>
  <nav id="pools" aria-label="Pools"></nav>
  <span id="conn" class="conn">connecting…</span>
</header>
<main>
  <section class="cards" id="summary" aria-label="Summary">
    <div class="card health"><h2>Health</h2><p><span id="health" class="badge">…</span></p><p id="health-reason" class="muted"></p></div>
    <div class="card"><h2>Pool</h2><dl id="figures"></dl></div>
    <div class="card"><h2>Late tasks</h2><dl id="late"></dl></div>
  </section>
  <section class="card" aria-label="Lanes">
    <h2>Lanes <span id="lane-count" class="muted"></span></h2>
    <div class="scroll"><table id="lanes">
      <thead><tr><th>Lane</th><th>Queued</th><th>Running</th><th>Utilization</th><th class="heap">Heap</th><th></th></tr></thead>
      <tbody></tbody>
    </table></div>
  </section>
  <section class="charts" aria-label="Charts">
    <div class="card"><h2>Throughput <span class="muted">tasks/s</span></h2><div id="chart-throughput" class="chart"></div></div>
    <div class="card"><h2>Wait <span class="muted">ms, p50 / p99 over the last 30-60 s</span></h2><div id="chart-wait" class="chart"></div></div>
    <div class="card"><h2>Run <span class="muted">ms, p50 / p99 over the last 30-60 s</span></h2><div id="chart-run" class="chart"></div></div>
  </section>
  <section class="card" id="autoscale" aria-label="Autoscaler">
    <h2>Autoscaler</h2>
    <p id="autoscale-state" class="muted">no autoscaler on this pool</p>
    <form id="actions" hidden>
      <button type="button" id="pause">Pause</button>
      <button type="button" id="resume">Resume</button>
      <label>Lanes <input id="resize-lanes" type="number" min="1" inputmode="numeric"></label>
      <button type="submit">Resize</button>
      <span id="action-result" class="muted"></span>
    </form>
    <ol id="decisions" class="timeline"></ol>
  </section>
  <section class="cards">
    <div class="card wide"><h2>Task types</h2><div class="scroll"><table id="types">
      <thead><tr><th>Type</th><th>Accepted</th><th>Completed</th><th>Failed</th><th>Timed out</th><th>Cancelled</th><th>Run p99</th></tr></thead>
      <tbody></tbody>
    </table></div></div>
    <div class="card"><h2>Session</h2>
      <form id="lookup"><input id="session-id" placeholder="session id" autocomplete="off" aria-label="Session id"><button type="submit">Look up</button></form>
      <dl id="session"></dl>
    </div>
    <div class="card"><h2>Events</h2><ol id="events" class="timeline"></ol></div>
  </section>
</main>
<script src="assets/uplot.js"></script>
<script src="assets/app.js"></script>
</body>
</html>
`;
