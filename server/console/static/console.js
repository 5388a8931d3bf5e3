// The tickrelay operators' console: plain JavaScript, no build step. Every value shown comes
// from /console/api/* and is put in the page with textContent (labels and names are not trusted).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { me: null, open: null, stream: null, entities: {}, timer: null };

async function api(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch("/console/api/" + path, init);
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = data.error || {};
    const err = new Error((e.message || r.statusText) + (e.request_id ? " (request " + e.request_id + ")" : ""));
    err.status = r.status;
    throw err;
  }
  return data;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function cell(tr, text, cls) {
  const td = el("td", text, cls);
  tr.appendChild(td);
  return td;
}

function button(text, onClick, cls) {
  const b = el("button", text, cls);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

const fmt = {
  dur(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 120) return s + " s";
    if (s < 7200) return Math.floor(s / 60) + " min";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  },
  bytes(n) {
    if (n < 0) return "?";
    if (n < 1024) return n + " B";
    if (n < 1 << 20) return (n / 1024).toFixed(1) + " KiB";
    if (n < 1 << 30) return (n / (1 << 20)).toFixed(1) + " MiB";
    return (n / (1 << 30)).toFixed(2) + " GiB";
  },
  ms(v) {
    return v < 0 ? "?" : v < 1 ? (v * 1000).toFixed(0) + " µs" : v.toFixed(1) + " ms";
  },
  pct(cores) {
    return (cores * 100).toFixed(0) + "%";
  },
};

function showError(msg) {
  $("status").textContent = msg || "";
}

// ---- login ----

function showLogin(msg) {
  stopPolling();
  closeDetail();
  $("app").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  $("loginError").textContent = msg || "";
  $("key").value = "";
  $("key").focus();
}

async function showApp(me) {
  state.me = me;
  $("login").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  const until = new Date(me.expires).toLocaleTimeString();
  $("whoText").textContent = me.name + " on " + me.node + (me.cluster ? " (cluster)" : "") + " · session until " + until;
  await refresh();
  state.timer = setInterval(refresh, 2000);
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

$("loginForm").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const me = await api("POST", "login", { name: $("name").value, key: $("key").value });
    $("key").value = "";
    await showApp(me);
  } catch (e) {
    $("loginError").textContent = e.message;
  }
});

$("logout").addEventListener("click", async () => {
  try {
    await api("POST", "logout", {});
  } catch {
    /* the session is gone either way */
  }
  showLogin("Logged out.");
});

// ---- polling ----

async function refresh() {
  try {
    const [inst, ms] = await Promise.all([api("GET", "instances"), api("GET", "matches" + filterQuery())]);
    renderInstances(inst.instances);
    renderMatches(ms.matches);
    if (state.open) await refreshDetail();
    showError("");
  } catch (e) {
    if (e.status === 401) return showLogin("Your session expired: log in again.");
    showError(e.message);
  }
}

function filterQuery() {
  const q = new URLSearchParams();
  if ($("fGame").value.trim()) q.set("game", $("fGame").value.trim());
  if ($("fLabel").value.trim()) q.append("label", $("fLabel").value.trim());
  const s = q.toString();
  return s ? "?" + s : "";
}

$("filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  refresh();
});

// ---- instances ----

function chart(samples) {
  const W = 180, H = 36, NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("width", W);
  svg.setAttribute("height", H);
  if (samples.length < 2) return svg;
  const t0 = samples[0].t, t1 = samples[samples.length - 1].t;
  const line = (vals, color) => {
    const top = Math.max(...vals, 1e-9);
    const pts = samples.map((s, i) => {
      const x = ((s.t - t0) / Math.max(t1 - t0, 1)) * (W - 2) + 1;
      const y = H - 2 - (vals[i] / top) * (H - 4);
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    const p = document.createElementNS(NS, "polyline");
    p.setAttribute("points", pts.join(" "));
    p.setAttribute("fill", "none");
    p.setAttribute("stroke", color);
    p.setAttribute("stroke-width", "1.5");
    svg.appendChild(p);
  };
  line(samples.map((s) => s.cpu * 100), "#1f6feb");
  line(samples.map((s) => s.tick_p99_ms), "#d97706");
  return svg;
}

function renderInstances(list) {
  $("instanceCount").textContent = "(" + list.length + ")";
  const body = $("instances").tBodies[0];
  body.replaceChildren();
  for (const n of list) {
    const tr = el("tr", null, n.self ? "self" : "");
    tr.dataset.node = n.node;
    cell(tr, n.node + (n.self ? " (this one)" : ""));
    cell(tr, n.address);
    cell(tr, n.version);
    cell(tr, fmt.dur(n.uptime_s), "num");
    cell(tr, n.health, n.health === "ok" ? "ok" : "bad");
    cell(tr, n.sessions, "num");
    cell(tr, n.matches, "num");
    cell(tr, n.players, "num");
    cell(tr, fmt.pct(n.cpu), "num");
    cell(tr, fmt.bytes(n.memory), "num");
    cell(tr, fmt.ms(n.tick_p99_ms), "num");
    cell(tr, "").appendChild(chart(n.samples || []));
    cell(tr, "").appendChild(
      button(
        "Drain",
        async () => {
          const q = "Drain " + n.node + "? It shuts down gracefully (like SIGTERM): its matches end after the grace period and are NOT moved to another instance.";
          if (!confirm(q)) return;
          try {
            await api("POST", "instances/" + encodeURIComponent(n.node) + "/drain", {});
            showError(n.node + " is draining.");
          } catch (e) {
            showError("drain " + n.node + ": " + e.message);
          }
        },
        "danger",
      ),
    );
    body.appendChild(tr);
  }
}

// ---- matches ----

function labelText(l) {
  return Object.entries(l || {})
    .map(([k, v]) => k + ":" + v)
    .join(" ");
}

async function endMatch(id) {
  if (!confirm("End match " + id + "? Its players get END (stopped).")) return;
  try {
    await api("POST", "matches/" + encodeURIComponent(id) + "/end", {});
    if (state.open === id) closeDetail();
    await refresh();
  } catch (e) {
    showError("end " + id + ": " + e.message);
  }
}

function renderMatches(list) {
  $("matchCount").textContent = "(" + list.length + ")";
  const body = $("matches").tBodies[0];
  body.replaceChildren();
  for (const m of list) {
    const tr = el("tr");
    tr.dataset.match = m.id;
    cell(tr, m.id + (m.private ? " (private)" : ""));
    cell(tr, m.game);
    cell(tr, labelText(m.label));
    cell(tr, m.players + "/" + m.max_players, "num");
    cell(tr, m.tick, "num");
    cell(tr, fmt.ms(m.tick_p99_ms), "num");
    cell(tr, m.overruns, m.overruns > 0 ? "num bad" : "num");
    cell(tr, m.epoch, "num");
    cell(tr, m.owner.node);
    cell(tr, fmt.dur(m.age_s), "num");
    const td = cell(tr, "");
    td.appendChild(button("Open", () => openDetail(m.id)));
    td.appendChild(button("End", () => endMatch(m.id), "danger"));
    body.appendChild(tr);
  }
}

// ---- one match ----

async function openDetail(id) {
  closeDetail();
  state.open = id;
  $("detail").hidden = false;
  $("dId").textContent = id;
  $("live").textContent = "connecting to the live stream…";
  await refreshDetail();
  const es = new EventSource("/console/api/matches/" + encodeURIComponent(id) + "/stream");
  state.stream = es;
  es.addEventListener("state", (ev) => {
    const s = JSON.parse(ev.data);
    state.entities = s.entities || {};
    renderLive(s.tick);
  });
  es.addEventListener("delta", (ev) => {
    const d = JSON.parse(ev.data);
    for (const [k, v] of Object.entries(d.added || {})) state.entities[k] = v;
    for (const [k, v] of Object.entries(d.updated || {})) state.entities[k] = Object.assign(state.entities[k] || {}, v);
    for (const k of d.removed || []) delete state.entities[k];
    renderLive(d.tick);
  });
  es.addEventListener("end", (ev) => {
    $("liveTick").textContent = "ended: " + ev.data;
    es.close();
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) $("liveTick").textContent = "stream closed";
  };
}

function renderLive(tick) {
  const n = Object.keys(state.entities).length;
  $("liveTick").textContent = "state at tick " + tick + " · " + n + " entities";
  $("live").textContent = JSON.stringify(state.entities, null, 1).slice(0, 20000);
}

function closeDetail() {
  if (state.stream) state.stream.close();
  state.stream = null;
  state.open = null;
  state.entities = {};
  $("detail").hidden = true;
}

$("dClose").addEventListener("click", closeDetail);

async function refreshDetail() {
  const id = state.open;
  let d;
  try {
    d = await api("GET", "matches/" + encodeURIComponent(id));
  } catch (e) {
    if (e.status === 404) {
      $("dSummary").textContent = "This match is gone.";
      $("members").tBodies[0].replaceChildren();
      return;
    }
    throw e;
  }
  if (state.open !== id) return;
  const m = d.match;
  $("dSummary").textContent =
    m.game + " on " + m.owner.node + " · " + m.players + "/" + m.max_players + " players · tick " + m.tick + " at " + m.tick_rate +
    " Hz · p99 " + fmt.ms(m.tick_p99_ms) + " · " + m.overruns + " overruns · epoch " + m.epoch + " · " + fmt.dur(m.age_s) + " old";
  const body = $("members").tBodies[0];
  body.replaceChildren();
  for (const p of d.members) {
    const tr = el("tr");
    tr.dataset.pid = p.pid;
    cell(tr, p.pid, "num");
    cell(tr, p.name);
    cell(tr, p.player_id);
    cell(tr, p.connected ? "connected" : "dropped " + fmt.dur(p.dropped_s || 0) + " ago", p.connected ? "ok" : "dropped");
    cell(tr, p.via ? "(relayed)" : fmt.ms(p.rtt_ms), "num");
    cell(tr, p.last_input, "num");
    cell(tr, p.via ? "(relayed)" : fmt.bytes(p.queued_bytes), "num");
    cell(tr, p.via || "");
    cell(tr, "").appendChild(
      button(
        "Kick",
        async () => {
          if (!confirm("Kick " + p.name + " (pid " + p.pid + ")?")) return;
          try {
            await api("POST", "matches/" + encodeURIComponent(id) + "/kick", { pid: p.pid });
            await refreshDetail();
          } catch (e) {
            showError("kick: " + e.message);
          }
        },
        "danger",
      ),
    );
    body.appendChild(tr);
  }
}

// ---- start ----

window.tickrelayConsole = state;
api("GET", "me")
  .then(showApp)
  .catch(() => showLogin(""));
