/** The page script: plain JavaScript run as is by the browser (no build step). */
export const APP_JS = String.raw`'use strict';
(function () {
  var ACTIONS = document.body.dataset.actions === 'true';
  var HISTORY = 300; // points kept per chart: five minutes at one snapshot per second
  // Latency over the last 30-60 s, not since the pool started.
  function recent(s) { return s.recentLatency || s.latency; }
  var pools = [];
  var current = null;
  var history = {};
  var lastBusy = {};
  var charts = {};

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function num(n, digits) { return Number(n).toLocaleString('en', { maximumFractionDigits: digits || 0 }); }
  function ms(n) { return n >= 1000 ? num(n / 1000, 2) + ' s' : num(n, 1) + ' ms'; }
  function bytes(n) { return n >= 1073741824 ? num(n / 1073741824, 1) + ' GB' : num(n / 1048576, 1) + ' MB'; }
  function clock(at) { return new Date(at).toLocaleTimeString('en-GB'); }
  function pairs(dl, rows) {
    clear(dl);
    rows.forEach(function (r) { dl.appendChild(el('dt', '', r[0])); dl.appendChild(el('dd', '', r[1])); });
  }

  function chart(id, labels, colors) {
    var box = $(id);
    var series = [{}].concat(labels.map(function (label, i) {
      return { label: label, stroke: colors[i], width: 1.5, points: { show: false } };
    }));
    var data = [[]].concat(labels.map(function () { return []; }));
    return new uPlot({ width: box.clientWidth || 280, height: 140, series: series, axes: [{}, { size: 48 }], legend: { live: false } }, data, box);
  }
  function setupCharts() {
    charts.throughput = chart('chart-throughput', ['last 10 s', 'last 60 s'], ['#3b82f6', '#94a3b8']);
    charts.wait = chart('chart-wait', ['p50', 'p99'], ['#3b82f6', '#c62828']);
    charts.run = chart('chart-run', ['p50', 'p99'], ['#3b82f6', '#c62828']);
    window.addEventListener('resize', function () {
      Object.keys(charts).forEach(function (k) {
        var box = charts[k].root.parentNode;
        charts[k].setSize({ width: box.clientWidth, height: 140 });
      });
    });
  }

  function remember(at, p) {
    var h = history[p.name] || (history[p.name] = { t: [], thr10: [], thr60: [], w50: [], w99: [], r50: [], r99: [] });
    var s = p.stats;
    var point = { t: at / 1000, thr10: s.throughput.last10s, thr60: s.throughput.last60s, w50: recent(s).wait.p50, w99: recent(s).wait.p99, r50: recent(s).run.p50, r99: recent(s).run.p99 };
    Object.keys(point).forEach(function (k) { h[k].push(point[k]); if (h[k].length > HISTORY) h[k].shift(); });
  }
  function drawCharts() {
    var h = history[current];
    if (!h) return;
    charts.throughput.setData([h.t, h.thr10, h.thr60]);
    charts.wait.setData([h.t, h.w50, h.w99]);
    charts.run.setData([h.t, h.r50, h.r99]);
  }

  // Utilization between two snapshots (busy time over lane time); the lane's average at first.
  function utilization(pool, at, lane) {
    var key = pool + '/' + lane.id;
    var prev = lastBusy[key];
    lastBusy[key] = { at: at, busyMs: lane.busyMs };
    if (!prev || at <= prev.at || lane.busyMs < prev.busyMs) return lane.utilization;
    return Math.min(1, (lane.busyMs - prev.busyMs) / ((at - prev.at) * lane.concurrency));
  }

  function renderTabs() {
    var nav = clear($('pools'));
    pools.forEach(function (p) {
      var b = el('button', '', p.name);
      b.type = 'button';
      b.setAttribute('aria-current', String(p.name === current));
      b.addEventListener('click', function () { current = p.name; render(); drawCharts(); });
      nav.appendChild(b);
    });
  }

  function renderLanes(p, util) {
    var s = p.stats;
    var heap = {};
    (s.threads || []).forEach(function (t) { heap[t.laneId] = t; });
    $('lanes').classList.toggle('no-heap', !s.threads);
    var most = 0;
    s.lanes.forEach(function (l) { most = Math.max(most, l.queued + l.running); });
    var body = clear($('lanes').tBodies[0]);
    s.lanes.forEach(function (l) {
      var tr = el('tr');
      tr.dataset.lane = String(l.id);
      if (most > 0 && l.queued + l.running === most) tr.classList.add('hot');
      if (l.retiring) tr.classList.add('retiring');
      tr.appendChild(el('td', '', '#' + l.id));
      tr.appendChild(el('td', 'queued', num(l.queued)));
      tr.appendChild(el('td', '', l.running + ' / ' + l.concurrency));
      var u = util[l.id];
      var cell = el('td');
      var bar = el('span', u >= 0.85 ? 'bar high' : 'bar');
      var fill = el('i');
      fill.style.width = Math.round(u * 100) + '%';
      bar.appendChild(fill);
      cell.appendChild(bar);
      cell.appendChild(document.createTextNode(Math.round(u * 100) + '%'));
      tr.appendChild(cell);
      var t = heap[l.id];
      tr.appendChild(el('td', 'heap', t ? bytes(t.heapUsed) + ' / ' + bytes(t.heapLimit) : ''));
      tr.appendChild(el('td', 'tag', l.retiring ? 'retiring' : most > 0 && l.queued + l.running === most ? 'busiest' : ''));
      body.appendChild(tr);
    });
    var live = s.lanes.filter(function (l) { return !l.retiring; }).length;
    $('lane-count').textContent = live + ' live' + (live < s.lanes.length ? ', ' + (s.lanes.length - live) + ' retiring' : '');
  }

  function renderAutoscale(p) {
    var a = p.stats.autoscale;
    var live = p.stats.lanes.filter(function (l) { return !l.retiring; }).length;
    $('autoscale-state').textContent = a
      ? 'size ' + live + ' · min ' + a.min + ' · max ' + a.max + ' · ' + (a.paused ? 'paused' : 'active')
      : 'no autoscaler on this pool';
    $('pause').hidden = !a;
    $('resume').hidden = !a;
    $('actions').hidden = !ACTIONS;
    var list = clear($('decisions'));
    (a ? a.decisions.slice().reverse() : []).forEach(function (d) {
      var li = el('li', d.applied ? 'applied' : 'skipped');
      li.appendChild(el('time', '', clock(d.at)));
      li.appendChild(el('span', 'dir ' + d.direction, d.direction));
      li.appendChild(el('span', '', '→ ' + d.desired + (d.applied ? '' : ' (not applied)') + ': '));
      li.appendChild(el('span', 'reason', d.reason));
      li.appendChild(el('span', 'inputs', Object.keys(d.inputs).map(function (k) {
        return k + '=' + num(d.inputs[k], 2);
      }).join(' ')));
      list.appendChild(li);
    });
  }

  function renderTypes(p) {
    var body = clear($('types').tBodies[0]);
    Object.keys(p.stats.types).sort().forEach(function (type) {
      var c = p.stats.types[type];
      var tr = el('tr');
      tr.dataset.type = type;
      [type, num(c.accepted), num(c.completed), num(c.failed), num(c.timedOut), num(c.cancelled), c.latency ? ms(c.latency.run.p99) : '–']
        .forEach(function (v) { tr.appendChild(el('td', '', v)); });
      body.appendChild(tr);
    });
  }

  var latest = null;
  function render() {
    if (!latest) return;
    var p = latest.pools.filter(function (x) { return x.name === current; })[0];
    if (!p) return;
    renderTabs();
    var s = p.stats;
    var h = $('health');
    h.textContent = p.health.status;
    h.className = 'badge ' + p.health.status;
    $('health-reason').textContent = p.health.reason || '';
    pairs($('figures'), [
      ['state', s.state],
      ['queued', num(s.queued)],
      ['running', num(s.running)],
      ['active sessions', num(s.activeSessions)],
      ['oldest wait', ms(s.oldestWaitMs)],
      ['throughput', num(s.throughput.last10s, 1) + ' /s (1 min: ' + num(s.throughput.last60s, 1) + ')'],
      ['completed', num(s.completed)],
      ['failed', num(s.failed)],
      ['rejected', num(s.rejected)],
    ]);
    pairs($('late'), [
      ['late (past timeout)', num(s.lateTasks)],
      ['overdue (2× timeout)', num(s.overdueTasks)],
      ['timed out', num(s.timedOut)],
      ['retrying', num(s.retrying)],
      ['dead-lettered', num(s.deadLettered)],
      ['abandoned', num(s.abandoned)],
    ]);
    renderLanes(p, latest.util[p.name]);
    renderAutoscale(p);
    renderTypes(p);
  }

  function onSnapshot(msg) {
    var snap = JSON.parse(msg.data);
    snap.util = {};
    snap.pools.forEach(function (p) {
      remember(snap.at, p);
      var u = {};
      p.stats.lanes.forEach(function (l) { u[l.id] = utilization(p.name, snap.at, l); });
      snap.util[p.name] = u;
    });
    pools = snap.pools;
    if (current === null || !pools.some(function (p) { return p.name === current; })) current = pools.length ? pools[0].name : null;
    latest = snap;
    render();
    drawCharts();
    $('conn').textContent = 'live · ' + clock(snap.at);
  }

  function describe(e) {
    switch (e.type) {
      case 'lane-added': return 'lane #' + e.laneId + ' added';
      case 'lane-retiring': return 'lane #' + e.laneId + ' retiring';
      case 'lane-removed': return 'lane #' + e.laneId + ' removed';
      case 'resized': return 'resized ' + e.from + ' → ' + e.to;
      case 'scaling-decision': return 'autoscale ' + e.direction + ' → ' + e.desired + (e.applied ? '' : ' (not applied)') + ': ' + e.reason;
      default: return e.type;
    }
  }
  function onPoolEvent(msg) {
    var m = JSON.parse(msg.data);
    var list = $('events');
    var li = el('li');
    li.dataset.type = m.event.type;
    li.appendChild(el('time', '', clock(m.at)));
    li.appendChild(el('span', '', m.pool + ': ' + describe(m.event)));
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 50) list.removeChild(list.lastChild);
  }

  function post(action, body) {
    return fetch('pools/' + encodeURIComponent(current) + '/' + action, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body || {}),
    }).then(function (r) {
      return r.json().then(function (j) {
        $('action-result').textContent = r.ok ? action + ': done' : action + ': ' + (j.message || r.status);
      });
    });
  }

  $('pause').addEventListener('click', function () { post('pause'); });
  $('resume').addEventListener('click', function () { post('resume'); });
  $('actions').addEventListener('submit', function (ev) {
    ev.preventDefault();
    post('resize', { lanes: Number($('resize-lanes').value) });
  });
  $('lookup').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var id = $('session-id').value.trim();
    if (!id || current === null) return;
    fetch('session?pool=' + encodeURIComponent(current) + '&id=' + encodeURIComponent(id))
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        var j = res.j;
        pairs($('session'), res.ok
          ? [['session', j.sessionId], ['lane', '#' + j.laneId + (j.active ? '' : ' (next task)')], ['queued', num(j.queued)], ['running', j.running ? 'yes' : 'no']]
          : [['error', j.message]]);
      });
  });

  setupCharts();
  var source = new EventSource('events');
  source.addEventListener('snapshot', onSnapshot);
  source.addEventListener('pool-event', onPoolEvent);
  source.addEventListener('open', function () { $('conn').textContent = 'live'; });
  source.addEventListener('error', function () { $('conn').textContent = 'reconnecting…'; });
})();
`;
