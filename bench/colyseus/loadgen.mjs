// bench/colyseus/loadgen.mjs: the arena workload's clients for the Colyseus server (server.mjs),
// made of Colyseus' own SDK (colyseus.js 0.16: its Client, Room, matchmaking over HTTP, WebSocket
// transport and schema decoder). It is driven by bench/cmd/loadgen -target colyseus, which starts
// it as a separate process, reads /proc around the window and makes the result line; it speaks
// JSON lines: events on stdout, commands on stdin (protocol.mjs says which).
//
// What it does is bench/loadgen's arena run, in the same order and with the same definitions:
// M rooms × P clients (the first creates the room, the others join it by id), then each client
// sends an input [seq, dx, dy] every --interval-ms at its own random phase (one schedule for all
// clients, as the Go load generator's; an input sent > 5 ms after its slot is late, a whole missed
// period skipped, both counted). Every frame received is counted (messages, payload bytes, and
// bytes on the wire with the server→client WebSocket header); a measuring client records, for each
// input sent in the window, the time from sending it to receiving the first state patch in which
// its own player's seq is ≥ it (the receipt time is taken before the SDK decodes the frame). In
// probe mode only the first client of each room measures; the others count frames and skip the
// SDK's decoding of state patches (as the Go probe's clients only count).
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { Client, Protocol } from "colyseus.js";
import { readFileSync } from "node:fs";
import { parseArgs, loopbackAddr } from "./args.mjs";
import { Ring } from "./ring.mjs";

const args = parseArgs(process.argv.slice(2), {
  addr: "", rooms: "50", players: "10", "interval-ms": "50", probe: "false", concurrency: "32", "join-timeout-ms": "10000",
});
loopbackAddr(args.addr);
const M = Number(args.rooms), P = Number(args.players), IV = Number(args["interval-ms"]);
const probe = args.probe === "true";
const LATE_MS = 5; // bench/loadgen's lateAfter
const base = performance.now();
const now = () => performance.now() - base; // ms since start

const emit = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const errs = new Map();
function countErr(what) {
  what = String(what).slice(0, 90);
  if (errs.size < 50 || errs.has(what)) errs.set(what, (errs.get(what) || 0) + 1);
  else errs.set("(other errors)", (errs.get("(other errors)") || 0) + 1);
}

let winStart = Infinity, winEnd = Infinity;
const inWindow = (t) => t >= winStart && t < winEnd;
const lat = []; // ns, input → ack, inputs sent in the window
let dropped = 0, late = 0, skipped = 0;

// pre-drawn inputs: dx, dy uniform in [-1, 1], float32 (the Go load generator's payloads)
let rs = 0x2545f491;
const rnd = () => ((rs = (rs * 1103515245 + 12345) >>> 0) / 2 ** 32);
const payloads = Array.from({ length: 64 }, () => [Math.fround(rnd() * 2 - 1), Math.fround(rnd() * 2 - 1)]);

const wsHeader = (n) => (n < 126 ? 2 : n < 65536 ? 4 : 10);

class Sim {
  constructor(id, measures) {
    this.id = id;
    this.measures = measures;
    this.room = null;
    this.joined = false;
    this.closing = false;
    this.msgsIn = 0; this.bytesIn = 0; this.wireIn = 0; this.msgsOut = 0; this.bytesOut = 0;
    this.seq = 0;
    this.pay = Math.floor(Math.random() * payloads.length);
    this.ring = new Ring();
    this.due = 0;
  }

  // attach hooks the SDK's connection once the room is joined: counting on both paths, and the
  // ack check after the SDK applied a patch.
  attach(room) {
    this.room = room;
    this.joined = true;
    room.packr.useFloat32 = 1; // the SDK's msgpack encoder: floats as float32 (tickrelay's inputs are float32)
    const conn = room.connection;
    const ws = conn.transport.ws;
    const sdkOnMessage = ws.onmessage;
    ws.onmessage = (ev) => {
      const t = now();
      const n = ev.data.byteLength;
      this.msgsIn++;
      this.bytesIn += n;
      this.wireIn += n + wsHeader(n);
      const patch = new Uint8Array(ev.data, 0, 1)[0] === Protocol.ROOM_STATE_PATCH;
      if (patch && !this.measures && this.decodeOff) return; // probe mode's counting clients
      sdkOnMessage(ev);
      if (patch && this.measures) {
        const me = room.state.players.get(room.sessionId);
        if (me) {
          if (me.seq < this.ring.lastAck) countErr("check: ack went backwards");
          if (me.seq > this.seq) countErr("check: ack of an input never sent");
          this.ring.ack(me.seq, t, lat);
        }
      }
    };
    const sdkSend = conn.send.bind(conn);
    conn.send = (data) => {
      this.msgsOut++;
      this.bytesOut += data.byteLength;
      sdkSend(data);
    };
    room.onLeave((code) => {
      if (!this.closing) {
        dropped++;
        countErr(`dropped: close ${code}`);
      }
    });
  }

  send() {
    this.seq++;
    this.pay++;
    const [dx, dy] = payloads[this.pay % payloads.length];
    const t = now();
    this.ring.stamp(this.seq, t, inWindow(t));
    try {
      this.room.send(0, [this.seq, dx, dy]);
    } catch (e) {
      countErr(`send: ${e.message}`);
    }
    return t;
  }
}

function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${what}: timed out`)), ms); })])
    .finally(() => clearTimeout(timer));
}

const rooms = Array.from({ length: M }, (_, m) => Array.from({ length: P }, (_, i) => new Sim(m * P + i, !probe || i === 0)));
const url = `ws://${args.addr}`;
const joinTimeout = Number(args["join-timeout-ms"]);
let failedSetup = 0, failedJoins = 0;
const roomIds = new Array(M).fill("");

async function setupRoom(m) {
  const sims = rooms[m];
  let room;
  try {
    room = await withTimeout(new Client(url).create("arena", {}), joinTimeout, "create");
  } catch (e) {
    countErr(`create: ${e.message}`);
    failedSetup += sims.length;
    return;
  }
  roomIds[m] = room.roomId;
  sims[0].attach(room);
  await Promise.all(sims.slice(1).map(async (s) => {
    try {
      s.attach(await withTimeout(new Client(url).joinById(room.roomId, {}), joinTimeout, "joinById"));
    } catch (e) {
      countErr(`joinById: ${e.message}`);
      failedJoins++;
    }
  }));
}

async function setupAll() {
  let next = 0;
  const workers = Math.max(1, Math.floor(Number(args.concurrency) / 4));
  await Promise.all(Array.from({ length: Math.min(workers, M) }, async () => {
    while (next < M) await setupRoom(next++);
  }));
}

// checkRooms: every room has exactly P clients, as each client's decoded state and the server's
// matchmaker see it (waits up to 3 s for the last joins' patches).
async function checkRooms() {
  const deadline = now() + 3000;
  const full = () => rooms.every((sims) => sims.every((s) => !s.joined || s.room.state.players?.size === P));
  while (now() < deadline && !full()) await new Promise((r) => setTimeout(r, 20));
  let server = {};
  try {
    server = await (await fetch(`http://${args.addr}/bench/rooms`)).json();
  } catch (e) {
    countErr(`GET /bench/rooms: ${e.message}`);
  }
  let bad = 0, joined = 0;
  rooms.forEach((sims, m) => {
    let n = 0, maxMembers = 0;
    for (const s of sims) {
      if (!s.joined) continue;
      n++;
      maxMembers = Math.max(maxMembers, s.room.state.players?.size || 0);
    }
    joined += n;
    if (n !== P || maxMembers !== P || server[roomIds[m]] !== P) bad++;
  });
  return { bad, joined };
}

// the send schedule: every joined client at its own random phase, in phase order (one timer)
let order = [], cur = 0, timer = null;
function startSending() {
  const t0 = now();
  order = rooms.flat().filter((s) => s.joined);
  for (const s of order) s.due = t0 + Math.random() * IV;
  order.sort((a, b) => a.due - b.due);
  pump();
}
function pump() {
  timer = null;
  const t = now();
  for (let k = 0; k < order.length; k++) {
    const s = order[cur];
    if (s.due > t + 0.5) break;
    const behind = t - s.due;
    if (behind >= IV) {
      const missed = Math.floor(behind / IV);
      skipped += missed;
      s.due += missed * IV;
    }
    if (!s.closing && s.room.connection.isOpen && s.send() - s.due > LATE_MS) late++;
    s.due += IV;
    cur = (cur + 1) % order.length;
  }
  if (order.length > 0) timer = setTimeout(pump, Math.max(1, order[cur].due - now()));
}

function counters() {
  const c = { msgs_in: 0, bytes_in: 0, wire_in: 0, msgs_out: 0, bytes_out: 0, late, skipped, t_ms: now() };
  for (const sims of rooms) {
    for (const s of sims) {
      c.msgs_in += s.msgsIn; c.bytes_in += s.bytesIn; c.wire_in += s.wireIn;
      c.msgs_out += s.msgsOut; c.bytes_out += s.bytesOut;
    }
  }
  return c;
}

const measuring = () => rooms.flat().filter((s) => s.joined && s.measures);

async function drain(ms) {
  const deadline = now() + ms;
  while (now() < deadline && measuring().some((s) => s.ring.pending())) await new Promise((r) => setTimeout(r, 20));
  const t = now();
  let inWin = 0, unacked = 0;
  for (const s of measuring()) {
    inWin += s.ring.winSent;
    unacked += s.ring.finalize(t, winEnd, lat);
  }
  return { inWin, unacked };
}

async function closeAll() {
  if (timer) clearTimeout(timer);
  await Promise.all(rooms.flat().filter((s) => s.joined).map((s) => {
    s.closing = true;
    return withTimeout(s.room.leave(true), 3000, "leave").catch(() => s.room.connection.close());
  }));
}

// versions of the packages in use (package-lock.json pins them)
function versions() {
  const v = {};
  for (const p of ["@colyseus/core", "@colyseus/ws-transport", "@colyseus/schema", "colyseus.js"]) {
    try {
      v[p] = JSON.parse(readFileSync(new URL(`./node_modules/${p}/package.json`, import.meta.url))).version;
    } catch {
      v[p] = "?";
    }
  }
  return v;
}

const t0 = now();
await setupAll();
const { bad, joined } = await checkRooms();
if (probe) for (const sims of rooms) for (const s of sims) s.decodeOff = true;
startSending();
emit({
  ev: "setup", clients: M * P, joined, measuring: measuring().length, failed_setup: failedSetup, failed_joins: failedJoins,
  join_check_failed: bad, setup_ms: Math.round(now() - t0), node: process.version, pid: process.pid, versions: versions(),
  errors: Object.fromEntries(errs),
});

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const cmd = JSON.parse(line);
  if (cmd.cmd === "mark") {
    if (cmd.end) winEnd = now();
    else winStart = now();
    emit({ ev: "mark", end: !!cmd.end, ...counters() });
  } else if (cmd.cmd === "drain") {
    const { inWin, unacked } = await drain(cmd.ms);
    emit({ ev: "final", inputs_in_window: inWin, unacked, dropped, errors: Object.fromEntries(errs), lat_ns: lat });
  } else if (cmd.cmd === "close") {
    break;
  }
}
await closeAll();
process.exit(0);
