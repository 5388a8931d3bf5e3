// tickrelay demo: the arena game on a canvas (with client-side prediction for your dot and
// interpolation for the others), a chat room on the `relay` game, and the list of live matches.
// Plain ES module; the SDK is the single-file browser bundle the server serves at /sdk/.
import { Client, Match, PendingInputs, EventKind, LeaveReason, CloseCode, EndReason } from "/sdk/tickrelay.js";

const EndReasonName = Object.fromEntries(Object.entries(EndReason).map(([k, v]) => [v, k]));

// Arena facts (game/arena): entity id = pid, fields x, y; 1000×1000; an input [dx, dy] moves a
// player by SPEED × (dx, dy), the vector capped at length 1, clamped to the world.
const WORLD = 1000;
const SPEED = 5;
const INPUT_HZ = 20;

const $ = (id) => document.getElementById(id);
const client = new Client(); // the page's origin
const arena = { conn: null, match: null, pending: new PendingInputs(), interp: new Map(), tickMs: 50 };
const chat = { conn: null, match: null };

// For tests and the console: the SDK objects behind the page. `ready` turns true once both
// matches are joined; `arena.match.state` is the mirror (entity id = pid → {x, y}).
const demo = { client, arena, chat, ready: false, recoveries: 0, frames: 0, predictedSelf: () => predictedSelf(), hudTick: () => hudTick() };
window.tickrelayDemo = demo;

// ---------- start ----------

async function main() {
  // ?match=<arena id>&chat=<relay id> joins those (e.g. a link from another player); ?name=… too.
  const params = new URLSearchParams(location.search);
  const name = params.get("name") || sessionStorage.getItem("tickrelay.name") || `guest${Math.floor(Math.random() * 1000)}`;
  sessionStorage.setItem("tickrelay.name", name);
  demo.name = name;
  await authenticate();
  await Promise.all([joinRequested(joinArena, params.get("match")), joinRequested(joinChat, params.get("chat"))]);
  demo.ready = true;
  refreshMatches();
  setInterval(refreshMatches, 3000);
  setInterval(sendInput, 1000 / INPUT_HZ);
  setInterval(measure, 1000);
  setInterval(hud, 100);
  requestAnimationFrame(draw);
}

async function authenticate() {
  const auth = await client.authGuest(demo.name);
  $("me").textContent = auth.name;
  $("me").title = auth.player_id;
}

/** Joins the match the URL names, or (if it is gone or full) the default one. */
async function joinRequested(join, id) {
  if (!id) return join();
  try {
    await join(id);
  } catch (err) {
    addChat(`could not join that ${join === joinArena ? "arena" : "room"} again (${err && err.message ? err.message : err}): joining another`, true);
    await join();
  }
}

// ---------- coming back after a server restart ----------
// A server that stops ends its matches (END, reason STOPPED) and closes with the reconnectable
// 4000; the SDK reconnects once it is back. A restarted server has forgotten our session (the
// RESUME fails and the match is left with an error) and its matches. If it also has another
// secret, it refuses our token with the terminal close 4100 AUTH (the SDK stops reconnecting and
// says why). In every case: get a token again if it was refused, and join the same match again
// (or another one when it is gone), retrying with a backoff until the server answers.
let reauth = null; // one re-authentication shared by the arena and the chat
const recovering = new Set();
async function recover(part, join, match, why) {
  if (recovering.has(part)) return;
  recovering.add(part);
  demo.recoveries++;
  demo.lastLoss = why;
  addChat(`${part} lost (${why}): joining again`, true);
  try {
    for (let attempt = 0; ; attempt++) {
      const conn = part === "arena" ? arena.conn : chat.conn;
      try {
        if (conn && conn.closeCode === CloseCode.AUTH) {
          demo.lastLoss = `${why}; then ${conn.closeReason}`;
          reauth ??= authenticate().finally(() => (reauth = null));
          await reauth;
        }
        await joinRequested(join, match.id);
        $("banner").style.display = "none";
        return;
      } catch (err) {
        if (attempt === 3) fail(`${part}: ${err && err.message ? err.message : err} (still trying)`);
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
      }
    }
  } finally {
    recovering.delete(part);
  }
}

/** Keeps ?match=…&chat=… in the address bar, so the link brings a friend to the same matches. */
function updateLink() {
  const u = new URL(location.href);
  if (arena.match && arena.match.id) u.searchParams.set("match", arena.match.id);
  if (chat.match && chat.match.id) u.searchParams.set("chat", chat.match.id);
  u.searchParams.delete("name");
  history.replaceState(null, "", u);
}

function fail(err) {
  console.error(err);
  const b = $("banner");
  b.textContent = String(err && err.message ? err.message : err);
  b.style.display = "block";
}

/** A connected Connection to `address` (a reservation's), reusing `current` when it matches. */
// ?peers=http://127.0.0.1:8081,http://127.0.0.1:8082 (make cluster prints such links): the other
// instances of the cluster, where the SDK reconnects when this page's instance dies (failover).
const peers = (new URLSearchParams(location.search).get("peers") || "")
  .split(",")
  .map((u) => u.trim())
  .filter((u) => /^https?:\/\/[^/@\s]+\/?$/.test(u))
  .map((u) => u.replace(/\/$/, "").replace(/^http/, "ws") + "/ws");

async function connectionFor(current, address, stateEl) {
  const url = address || client.wsUrl;
  if (current && current.urls[0] === url && current.state !== "closed") return current;
  if (current) current.close();
  const conn = client.connection({ url, urls: peers.filter((p) => p !== url) });
  conn.on("state", (s) => {
    stateEl.textContent = s.state;
    stateEl.className = `state-${s.state}`;
    stateEl.title = s.reason;
  });
  conn.on("event", (e) => {
    if (e.kind === EventKind.NOTICE) addChat(`server: ${e.data[1]}`, true);
  });
  await conn.connect();
  return conn;
}

// ---------- arena ----------

/** Joins an arena match: by id, with a reservation, or else the first with a free seat or a new one. */
async function joinArena(target) {
  if (!target) {
    const free = await client.listMatches({ game: "arena", free: true, limit: 1 });
    target = free.length ? free[0].id : (await client.createMatch({ game: "arena" })).reservation;
  }
  const reservation = typeof target === "string" ? null : target;
  if (arena.match) await arena.match.leave().catch(() => {});
  arena.conn = await connectionFor(arena.conn, reservation && reservation.address, $("arena-state"));
  const match = new Match(arena.conn);
  watchArena(match);
  if (reservation) await match.join({ match: reservation.match_id, ticket: reservation.ticket });
  else await match.join(target);
  updateLink();
  refreshMatches();
}

/** Quick play: matchmaking in the arena queue (a match of up to 10 players of about your skill). */
async function quickPlay() {
  const btn = $("quick-play");
  btn.disabled = true;
  try {
    if (arena.match) await arena.match.leave().catch(() => {});
    arena.conn = await connectionFor(arena.conn, "", $("arena-state"));
    await client.matchmake({
      queue: "arena",
      properties: { skill: 1500, region: "eu" },
      connection: arena.conn,
      onProgress: (p) => {
        btn.textContent = `searching ${Math.round(p.waited / 1000)} s`;
      },
      setup: watchArena,
    });
    updateLink();
    refreshMatches();
  } catch (err) {
    fail(`quick play: ${err && err.message ? err.message : err}`);
  } finally {
    btn.textContent = "Quick play";
    btn.disabled = false;
  }
}
$("quick-play").addEventListener("click", quickPlay);

/** Wires an arena Match to the canvas, the HUD and the prediction state. */
function watchArena(match) {
  arena.match = match;
  arena.pending.clear();
  arena.interp.clear();
  const moved = new Set();
  const place = (id, f) => arena.interp.set(id, { ax: f.x, ay: f.y, bx: f.x, by: f.y, t: 0 });
  match.on("joined", () => {
    arena.tickMs = 1000 / (match.tickRate || 20);
    $("arena-id").textContent = match.id;
    seenTick(match);
  });
  match.on("snapshot", () => {
    for (const [id, f] of match.state.entities) place(id, f);
    changed();
  });
  const membersChanged = () => {
    refreshSoon();
    changed();
  };
  match.on("playerJoined", membersChanged);
  match.on("playerLeft", membersChanged);
  match.on("playerRejoined", membersChanged);
  match.on("entityAdded", place);
  match.on("entityRemoved", (id) => {
    arena.interp.delete(id);
    changed();
  });
  match.on("fieldChanged", (id) => moved.add(id));
  match.on("delta", () => {
    seenTick(match);
    changed();
    // Others move from where they are drawn now to their new position over one tick.
    const now = performance.now();
    for (const id of moved) {
      const p = arena.interp.get(id);
      const f = match.state.get(id);
      if (!p || !f) continue;
      const cur = interpolated(p, now);
      Object.assign(p, { ax: cur.x, ay: cur.y, bx: f.x, by: f.y, t: now });
    }
    moved.clear();
  });
  match.on("ack", (seq) => {
    arena.pending.ack(seq);
    changed();
  });
  match.on("left", (info) => {
    if (arena.match === match && info.error) recover("arena", joinArena, match, info.error.message);
  });
  match.on("end", (reason) => {
    if (arena.match === match) recover("arena", joinArena, match, `the match ended (${EndReasonName[reason] || reason})`);
  });
}

function interpolated(p, now) {
  const a = Math.min(1, Math.max(0, (now - p.t) / arena.tickMs));
  return { x: p.ax + (p.bx - p.ax) * a, y: p.ay + (p.by - p.ay) * a };
}

const keys = new Set();
let pointer = null; // world coordinates while touching / pressing

addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLInputElement) return;
  const k = e.key.toLowerCase();
  if (["arrowup", "arrowdown", "arrowleft", "arrowright", "w", "a", "s", "d"].includes(k)) {
    keys.add(k);
    e.preventDefault();
  }
});
addEventListener("keyup", (e) => keys.delete(e.key.toLowerCase()));
addEventListener("blur", () => keys.clear());

const canvas = $("arena");
// The world is drawn inside a margin (CSS pixels) so that a dot at an edge is drawn whole.
const MARGIN = 12;
function toWorld(e) {
  const r = canvas.getBoundingClientRect();
  const s = (r.width - 2 * MARGIN) / WORLD;
  const clampW = (v) => Math.max(0, Math.min(WORLD, v));
  return { x: clampW((e.clientX - r.left - MARGIN) / s), y: clampW((e.clientY - r.top - MARGIN) / s) };
}
canvas.addEventListener("pointerdown", (e) => {
  canvas.setPointerCapture(e.pointerId);
  pointer = toWorld(e);
});
canvas.addEventListener("pointermove", (e) => {
  if (pointer) pointer = toWorld(e);
});
for (const ev of ["pointerup", "pointercancel"]) canvas.addEventListener(ev, () => (pointer = null));

function direction() {
  let dx = 0;
  let dy = 0;
  if (keys.has("arrowleft") || keys.has("a")) dx -= 1;
  if (keys.has("arrowright") || keys.has("d")) dx += 1;
  if (keys.has("arrowup") || keys.has("w")) dy -= 1;
  if (keys.has("arrowdown") || keys.has("s")) dy += 1;
  if (!dx && !dy && pointer) {
    const me = predictedSelf();
    if (me) {
      const vx = pointer.x - me.x;
      const vy = pointer.y - me.y;
      const d = Math.hypot(vx, vy);
      if (d > SPEED) return [vx / d, vy / d];
      return [0, 0];
    }
  }
  const l = Math.hypot(dx, dy);
  return l > 1 ? [dx / l, dy / l] : [dx, dy];
}

/** The game's step, as the server runs it: used to predict your own dot. */
function step(p, [dx, dy]) {
  dx = Math.max(-1, Math.min(1, dx));
  dy = Math.max(-1, Math.min(1, dy));
  const l = Math.hypot(dx, dy);
  if (l > 1) {
    dx /= l;
    dy /= l;
  }
  p.x = Math.max(0, Math.min(WORLD, p.x + dx * SPEED));
  p.y = Math.max(0, Math.min(WORLD, p.y + dy * SPEED));
  return p;
}

function sendInput() {
  const m = arena.match;
  if (!m || m.status !== "joined") return;
  const dir = direction();
  if (!dir[0] && !dir[1]) return;
  const seq = m.sendInput(dir);
  if (seq) arena.pending.push(seq, dir);
}

/** Your dot: the authoritative position with the unacknowledged inputs replayed on top. */
function predictedSelf() {
  const m = arena.match;
  const f = m && m.state.get(m.pid);
  if (!f) return null;
  return arena.pending.replay({ x: f.x, y: f.y }, step);
}

// The server sends a DELTA only when something changed, so the last one's tick stands still
// while nobody moves. The HUD shows the server's tick as it runs: the last tick seen plus the
// ticks since, at the match's tick rate (re-anchored at every delta).
const tickSeen = { tick: 0, at: 0 };
function seenTick(m) {
  tickSeen.tick = m.tick;
  tickSeen.at = performance.now();
}
function hudTick() {
  const m = arena.match;
  if (!m || m.status !== "joined") return 0;
  return tickSeen.tick + Math.max(0, Math.floor((performance.now() - tickSeen.at) / arena.tickMs));
}

async function measure() {
  const m = arena.match;
  if (!m || !arena.conn || !arena.conn.open) return;
  try {
    const r = await m.ping();
    $("rtt").textContent = `${r.rtt.toFixed(1)} ms`;
  } catch {
    $("rtt").textContent = "–";
  }
}

function color(pid) {
  return `hsl(${(pid * 137.5) % 360} 70% 60%)`;
}

// Drawing costs main-thread time, and every message (a PONG too) waits for the frame being
// drawn: redrawing a still picture 60 times a second made the RTT shown in Chromium jump by a
// frame (4-58 ms, while Node bots measured 0.5 ms). So a frame is drawn only when something
// moved (a delta or a snapshot arrived, an input is pending, a dot is still interpolating, the
// canvas was resized), the static grid is drawn once into its own canvas, and the HUD is
// updated 10 times a second rather than every frame.
let lastChange = 0;
function changed() {
  lastChange = performance.now();
}
const grid = document.createElement("canvas");
function drawGrid(size, pad, s) {
  grid.width = grid.height = size;
  const ctx = grid.getContext("2d");
  const end = pad + WORLD * s;
  ctx.strokeStyle = "#1d2129";
  ctx.lineWidth = 1;
  for (let g = 100; g < WORLD; g += 100) {
    ctx.beginPath();
    ctx.moveTo(pad + g * s, pad);
    ctx.lineTo(pad + g * s, end);
    ctx.moveTo(pad, pad + g * s);
    ctx.lineTo(end, pad + g * s);
    ctx.stroke();
  }
  ctx.strokeStyle = "#2c313c"; // the world's edge
  ctx.strokeRect(pad, pad, WORLD * s, WORLD * s);
}

function draw() {
  requestAnimationFrame(draw);
  const dpr = window.devicePixelRatio || 1;
  const size = Math.round(canvas.clientWidth * dpr);
  const now = performance.now();
  const m = arena.match;
  const moving = now - lastChange < 2 * arena.tickMs || arena.pending.pending.length > 0 || pointer !== null;
  if (size && canvas.width !== size) {
    canvas.width = canvas.height = size;
  } else if (!moving && demo.frames > 0) {
    return; // nothing moved: the picture on screen is still right
  }
  demo.frames++;
  const ctx = canvas.getContext("2d");
  const pad = MARGIN * dpr;
  const s = (canvas.width - 2 * pad) / WORLD;
  if (grid.width !== canvas.width) drawGrid(canvas.width, pad, s);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(grid, 0, 0);
  if (!m || m.status !== "joined") return;
  ctx.font = `${Math.max(10, 12 * dpr)}px system-ui`;
  ctx.textAlign = "center";
  for (const [id, p] of arena.interp) {
    if (id === m.pid) continue;
    const { x, y } = interpolated(p, now);
    dot(ctx, pad + x * s, pad + y * s, 7 * dpr, color(id), m.members.get(id));
  }
  const me = predictedSelf();
  if (me) {
    dot(ctx, pad + me.x * s, pad + me.y * s, 9 * dpr, color(m.pid), m.members.get(m.pid));
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2 * dpr;
    ctx.beginPath();
    ctx.arc(pad + me.x * s, pad + me.y * s, 9 * dpr, 0, Math.PI * 2);
    ctx.stroke();
  }
}

function hud() {
  const m = arena.match;
  if (!m || m.status !== "joined") return;
  $("tick").textContent = String(hudTick());
  $("players").textContent = String(m.members.size);
  $("pending").textContent = String(arena.pending.pending.length);
}

function dot(ctx, x, y, r, fill, member) {
  ctx.globalAlpha = member && !member.connected ? 0.35 : 1;
  ctx.fillStyle = fill;
  ctx.beginPath();
  ctx.arc(x, y, r, 0, Math.PI * 2);
  ctx.fill();
  if (member) {
    ctx.fillStyle = "#ccd";
    const half = ctx.measureText(member.name).width / 2;
    const lx = Math.max(half, Math.min(ctx.canvas.width - half, x));
    ctx.fillText(member.name, lx, y - r - 4 < 12 ? y + r + 14 : y - r - 4);
  }
  ctx.globalAlpha = 1;
}

$("new-arena").addEventListener("click", () => {
  client
    .createMatch({ game: "arena" })
    .then(({ reservation }) => joinArena(reservation))
    .catch(fail);
});

// ---------- chat (the relay game) ----------

/** Joins a chat room (a relay match): by id, or the first with a free seat, or a new one. */
async function joinChat(target) {
  if (!target) {
    const rooms = await client.listMatches({ game: "relay", free: true, limit: 1 });
    target = rooms.length ? rooms[0].id : (await client.createMatch({ game: "relay", label: { room: "lobby" } })).reservation;
  }
  const reservation = typeof target === "string" ? null : target;
  if (chat.match) await chat.match.leave().catch(() => {});
  chat.conn = await connectionFor(chat.conn, reservation && reservation.address, $("chat-state"));
  const match = new Match(chat.conn);
  chat.match = match;
  const who = (pid) => (match.members.get(pid) || { name: `#${pid}` }).name;
  const count = () => ($("chat-id").textContent = `${match.members.size} here`);
  match.on("joined", () => {
    count();
    $("chat-input").disabled = false;
    const names = [...match.members.values()].map((m) => m.name);
    addChat(`you joined the room: ${names.join(", ")}`, true);
  });
  match.on("message", (from, payload) => {
    // (`direct` is not "a whisper": the server also sends a broadcast without echo that way.)
    const text = payload && typeof payload.text === "string" ? payload.text : JSON.stringify(payload);
    addChat(`${who(from)}: ${text}`);
  });
  match.on("playerJoined", (pid, m) => {
    count();
    addChat(`${m.name} joined`, true);
    refreshSoon();
  });
  match.on("playerLeft", (pid, reason, m) => {
    count();
    addChat(`${m ? m.name : `#${pid}`} ${reason === LeaveReason.DROPPED ? "dropped" : "left"}`, true);
    refreshSoon();
  });
  match.on("playerRejoined", (pid) => addChat(`${who(pid)} is back`, true));
  match.on("end", (reason) => {
    if (chat.match === match) recover("chat", joinChat, match, `the room ended (${EndReasonName[reason] || reason})`);
  });
  match.on("left", (info) => {
    if (chat.match !== match) return;
    $("chat-input").disabled = true;
    if (info.error) recover("chat", joinChat, match, info.error.message);
  });
  if (reservation) await match.join({ match: reservation.match_id, ticket: reservation.ticket });
  else await match.join(target);
  updateLink();
  refreshMatches();
}

function addChat(text, sys = false) {
  const li = document.createElement("li");
  li.textContent = text;
  if (sys) li.className = "sys";
  const log = $("chat-log");
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(li);
  while (log.children.length > 200) log.firstElementChild.remove();
  if (atEnd) log.scrollTop = log.scrollHeight;
}

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text || !chat.match) return;
  // echo: the server sends it back in our next DELTA, so the log shows the room's order.
  if (chat.match.sendMessage({ text }, { echo: true })) input.value = "";
});

// ---------- live matches ----------

let refreshTimer = 0;
/** The list again shortly (players came or went in a match of ours), not once per event. */
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshMatches, 150);
}

let listSeq = 0;
async function refreshMatches() {
  const seq = ++listSeq;
  let list;
  try {
    list = await client.listMatches({ limit: 50 });
  } catch (err) {
    if (seq !== listSeq) return;
    $("matches").innerHTML = `<tr><td colspan="5" class="muted">${escapeHtml(err.message)}</td></tr>`;
    return;
  }
  if (seq !== listSeq) return; // a newer answer is coming (or came): don't draw an older one
  const body = $("matches");
  body.textContent = "";
  if (!list.length) body.innerHTML = `<tr><td colspan="5" class="muted">none</td></tr>`;
  for (const m of list) {
    const tr = document.createElement("tr");
    const mine = (arena.match && arena.match.id === m.id) || (chat.match && chat.match.id === m.id);
    if (mine) tr.className = "current";
    for (const v of [m.game, m.id, `${m.players}/${m.max_players}`, m.tick]) {
      const td = document.createElement("td");
      td.textContent = String(v);
      tr.append(td);
    }
    const td = document.createElement("td");
    const b = document.createElement("button");
    b.textContent = mine ? "here" : "join";
    b.disabled = mine || m.players >= m.max_players || (m.game !== "arena" && m.game !== "relay");
    b.addEventListener("click", () => {
      const go = m.game === "arena" ? joinArena(m.id) : joinChat(m.id);
      go.catch(fail);
    });
    td.append(b);
    tr.append(td);
    body.append(tr);
  }
}
$("refresh").addEventListener("click", refreshMatches);

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

main().catch(fail);
