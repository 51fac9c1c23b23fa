// statusd dashboard: live figures over Server-Sent Events, or a WebSocket when
// EventSource is missing or keeps failing. No frameworks, nothing external.
'use strict';

const WINDOW_S = 300;            // the chart's span
const history = [];              // {t, rate, load}
let previous = null;             // the last status, for rates
let source = null;               // 'sse' or 'ws'
let failures = 0;

const $ = (id) => document.getElementById(id);

function human(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(bytes) || 0, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : v.toFixed(0)) + ' ' + units[i];
}

function duration(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return (d ? d + 'd ' : '') + two(h) + ':' + two(m) + ':' + two(sec);
}

function setLink(state, text) {
  const el = $('link');
  el.dataset.state = state;
  el.textContent = text;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c;
    tr.appendChild(td);
  }
  return tr;
}

function render(st) {
  const now = Date.now() / 1000;
  if (st.hostname) { $('hostname').textContent = st.hostname; document.title = st.hostname + ' · statusd'; }
  if (typeof st.uptime_s === 'number') {
    $('uptime').textContent = duration(st.uptime_s);
    $('uptime').dataset.seconds = String(Math.floor(st.uptime_s));
  }
  if (st.load) $('load').textContent = [st.load['1'], st.load['5'], st.load['15']].map((x) => x.toFixed(2)).join('  ');
  if (st.memory && st.memory.total_bytes) {
    const used = st.memory.total_bytes - st.memory.available_bytes;
    $('memory').textContent = human(used) + ' / ' + human(st.memory.total_bytes);
    $('memory-bar').style.width = (100 * used / st.memory.total_bytes).toFixed(1) + '%';
  }
  const srv = st.server || {};
  $('connections').textContent = String(srv.connections_open ?? '–');
  $('requests').textContent = String(srv.requests ?? '–');
  if (st.process) $('process').textContent = st.process.rss_bytes ? human(st.process.rss_bytes) + ' RSS' : '–';

  let rate = 0;
  const ifaceRates = {};
  // Rates over the device's own clock: a replayed or delayed update does not make a spike.
  const dt = previous && typeof st.uptime_s === 'number' ? st.uptime_s - previous.st.uptime_s : 0;
  if (dt > 0.2) {
    rate = Math.max(0, (srv.requests - previous.st.server.requests) / dt);
    for (const i of previous.st.interfaces || []) ifaceRates[i.name] = i;
    for (const i of st.interfaces || []) {
      const p = ifaceRates[i.name];
      ifaceRates[i.name] = p ? [(i.rx_bytes - p.rx_bytes) / dt, (i.tx_bytes - p.tx_bytes) / dt] : null;
    }
  }
  $('rate').textContent = rate.toFixed(1) + ' /s';
  previous = { t: now, st };

  const temps = $('temperatures');
  temps.replaceChildren();
  for (const t of st.temperatures || []) temps.appendChild(row([t.name, t.celsius.toFixed(1) + ' °C']));
  if (!temps.children.length) temps.appendChild(row(['none reported']));

  const ifs = $('interfaces');
  ifs.replaceChildren();
  for (const i of st.interfaces || []) {
    const r = ifaceRates[i.name];
    ifs.appendChild(row([i.name, human(i.rx_bytes), human(i.tx_bytes),
      r ? human(r[0]) + '/s' : '–', r ? human(r[1]) + '/s' : '–']));
  }

  history.push({ t: now, rate, load: st.load ? st.load['1'] : 0 });
  while (history.length && history[0].t < now - WINDOW_S) history.shift();
  draw();
}

function draw() {
  const canvas = $('chart');
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  canvas.width = w * ratio;
  canvas.height = h * ratio;
  const g = canvas.getContext('2d');
  g.scale(ratio, ratio);
  g.clearRect(0, 0, w, h);
  g.strokeStyle = '#26313c';
  g.lineWidth = 1;
  for (let y = 0; y <= 4; y++) {
    g.beginPath();
    g.moveTo(0, 10 + y * (h - 20) / 4);
    g.lineTo(w, 10 + y * (h - 20) / 4);
    g.stroke();
  }
  if (history.length < 2) return;
  const now = history[history.length - 1].t;
  const x = (t) => w - (now - t) / WINDOW_S * w;
  const series = [['rate', '#4fb3ff'], ['load', '#ffb454']];
  for (const [key, color] of series) {
    const top = Math.max(1, ...history.map((p) => p[key])) * 1.15;
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    history.forEach((p, i) => {
      const y = h - 10 - p[key] / top * (h - 20);
      if (i) g.lineTo(x(p.t), y); else g.moveTo(x(p.t), y);
    });
    g.stroke();
    g.fillStyle = color;
    g.font = '11px system-ui, sans-serif';
    g.fillText(key === 'rate' ? 'max ' + (top / 1.15).toFixed(1) + '/s' : 'max ' + (top / 1.15).toFixed(2),
      key === 'rate' ? 6 : 110, 12);
  }
}

function onStatus(text) {
  try {
    render(JSON.parse(text));
    failures = 0;
    setLink('live', 'live · ' + (source === 'ws' ? 'WebSocket' : 'SSE'));
  } catch (e) {
    setLink('down', 'bad data: ' + e.message);
  }
}

function useWebSocket() {
  source = 'ws';
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/status';
  const ws = new WebSocket(url);
  ws.onmessage = (e) => onStatus(e.data);
  ws.onclose = () => {
    setLink('down', 'disconnected; retrying…');
    setTimeout(useWebSocket, 2000);
  };
}

function useEvents() {
  if (!window.EventSource) return useWebSocket();
  source = 'sse';
  const es = new EventSource('/events');
  es.addEventListener('status', (e) => onStatus(e.data));
  es.onerror = () => {
    setLink('down', 'reconnecting…');
    if (++failures >= 3) {  // the browser keeps retrying SSE by itself; after three misses, try a WebSocket
      es.close();
      useWebSocket();
    }
  };
}

window.addEventListener('resize', draw);
useEvents();
