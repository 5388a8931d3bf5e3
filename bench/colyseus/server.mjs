// bench/colyseus/server.mjs: a Colyseus 0.16 server that serves tickrelay's arena workload
// (shared/workloads.md) the way the arena game does, for side-by-side runs (README.md here):
//
//   - one room per match, at most 10 clients (--max-clients), created by the first client;
//   - state per player: x, y (float32) and seq, the last input applied (uint32), in a
//     @colyseus/schema MapSchema keyed by session id;
//   - an input message (type 0, [seq, dx, dy]) is queued on receipt; the room ticks at 20 Hz
//     (--tick-ms, one setSimulationInterval per room) and each tick applies the queued inputs
//     (at most 4 per player per tick, the rest dropped and acked, as tickrelay's MaxInputsTick),
//     moving the player by speed 5 × (dx, dy) (each clamped to [-1, 1], the vector capped at length
//     1), clamped to the 1000 × 1000 world, then sends the state patch in the same tick
//     (broadcastPatch; Colyseus' own patch interval is off: patchRate = null). So the ack of an
//     input is the patch of the tick that applied it, as tickrelay's DELTA.
//   - GET /healthz answers 200 (the load generator waits on it), GET /metrics the tick durations
//     as a Prometheus histogram colyseus_tick_duration_seconds (apply + encode + send), GET
//     /bench/rooms the clients of every room (the load generator's check that each room has P).
//
// Arguments: --listen 127.0.0.1:PORT (loopback only), --max-runtime 2m30s (a Go duration: the
// server exits by itself after it), --tick-ms 50, --max-clients 10, --patch tick|auto. --patch auto
// is the other common way to write such a room, for comparison: each input is applied when it
// arrives (same rules, no per-tick cap) and Colyseus' own patch timer (patchRate = --tick-ms)
// sends the patch; no simulation interval. The ack is then the first patch after the input.
import http from "node:http";
import { performance } from "node:perf_hooks";
import { Server, Room, matchMaker } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { Schema, MapSchema, defineTypes } from "@colyseus/schema";
import { parseArgs, parseGoDuration, loopbackAddr } from "./args.mjs";

const args = parseArgs(process.argv.slice(2), {
  listen: "127.0.0.1:2567", "max-runtime": "10m", "tick-ms": "50", "max-clients": "10", patch: "tick",
});
if (args.patch !== "tick" && args.patch !== "auto") throw new Error(`--patch ${args.patch}: tick or auto`);
const { host, port } = loopbackAddr(args.listen);
const tickMs = Number(args["tick-ms"]);
const maxClients = Number(args["max-clients"]);
const WORLD = 1000;
const SPEED = 5;
const MAX_INPUTS_TICK = 4; // tickrelay's default Options.MaxInputsTick
const MAX_QUEUED = 64; // inputs held per player between ticks (tickrelay's inbox bounds them too)

class Player extends Schema {
  constructor() {
    super();
    this.x = 0;
    this.y = 0;
    this.seq = 0;
  }
}
defineTypes(Player, { x: "float32", y: "float32", seq: "uint32" });

class ArenaState extends Schema {
  constructor() {
    super();
    this.players = new MapSchema();
  }
}
defineTypes(ArenaState, { players: { map: Player } });

// tick durations, as tickrelay's tickrelay_tick_duration_seconds (seconds)
const bounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const buckets = new Float64Array(bounds.length + 1);
let tickSum = 0;
// inputs received (accepted into a queue), applied, and dropped (over the per-tick cap or the queue)
const inputs = { received: 0, applied: 0, dropped: 0 };
function observeTick(s) {
  let i = 0;
  while (i < bounds.length && s > bounds[i]) i++;
  buckets[i]++;
  tickSum += s;
}
function metricsText() {
  const name = "colyseus_tick_duration_seconds";
  let out = `# HELP ${name} Duration of a room's tick: apply the queued inputs, encode and send the patch.\n# TYPE ${name} histogram\n`;
  let cum = 0;
  for (let i = 0; i < bounds.length; i++) {
    cum += buckets[i];
    out += `${name}_bucket{le="${bounds[i]}"} ${cum}\n`;
  }
  cum += buckets[bounds.length];
  out += `${name}_bucket{le="+Inf"} ${cum}\n${name}_sum ${tickSum}\n${name}_count ${cum}\n`;
  for (const [k, v] of Object.entries(inputs)) out += `colyseus_inputs_${k}_total ${v}\n`;
  return out;
}

function clamp(v, lo, hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

// move applies one input to p: dx, dy clamped to [-1, 1], the vector capped at length 1, speed
// SPEED, clamped to the world (tickrelay's arena.Input and DecodeInput).
function move(p, dx, dy) {
  dx = clamp(dx, -1, 1);
  dy = clamp(dy, -1, 1);
  const l = Math.hypot(dx, dy);
  if (l > 1) {
    dx /= l;
    dy /= l;
  }
  p.x = clamp(p.x + dx * SPEED, 0, WORLD);
  p.y = clamp(p.y + dy * SPEED, 0, WORLD);
}

class ArenaRoom extends Room {
  maxClients = maxClients;

  onCreate() {
    this.state = new ArenaState();
    this.queues = new Map(); // sessionId → [[seq, dx, dy], …] since the last tick (--patch tick)
    if (args.patch === "auto") {
      this.patchRate = tickMs;
      this.onMessage(0, (client, msg) => {
        const p = this.state.players.get(client.sessionId);
        if (!p || !Array.isArray(msg) || msg.length < 3) return;
        const [seq, dx, dy] = msg;
        if (typeof seq !== "number" || typeof dx !== "number" || typeof dy !== "number") return;
        inputs.received++;
        inputs.applied++;
        move(p, dx, dy);
        if (seq > p.seq) p.seq = seq;
      });
      return;
    }
    this.patchRate = null; // the patch goes out at the end of each tick, below
    this.onMessage(0, (client, msg) => {
      const q = this.queues.get(client.sessionId);
      if (!q || !Array.isArray(msg) || msg.length < 3) return;
      const [seq, dx, dy] = msg;
      if (typeof seq !== "number" || typeof dx !== "number" || typeof dy !== "number") return;
      if (q.length < MAX_QUEUED) {
        q.push(msg);
        inputs.received++;
      } else {
        inputs.dropped++;
      }
    });
    this.setSimulationInterval(() => this.tick(), tickMs);
  }

  tick() {
    const t0 = performance.now();
    for (const [sid, q] of this.queues) {
      if (q.length === 0) continue;
      const p = this.state.players.get(sid);
      if (!p) continue;
      const n = Math.min(q.length, MAX_INPUTS_TICK);
      for (let i = 0; i < n; i++) move(p, q[i][1], q[i][2]);
      inputs.applied += n;
      inputs.dropped += q.length - n;
      const last = q[q.length - 1][0]; // inputs beyond the cap are dropped, and acked
      if (last > p.seq) p.seq = last;
      q.length = 0;
    }
    this.broadcastPatch();
    observeTick((performance.now() - t0) / 1000);
  }

  // --patch auto: Colyseus' patch timer calls this; its duration is the tick's
  broadcastPatch() {
    if (args.patch !== "auto") return super.broadcastPatch();
    const t0 = performance.now();
    const changed = super.broadcastPatch();
    observeTick((performance.now() - t0) / 1000);
    return changed;
  }

  onJoin(client) {
    const p = new Player();
    p.x = Math.random() * WORLD;
    p.y = Math.random() * WORLD;
    this.state.players.set(client.sessionId, p);
    this.queues.set(client.sessionId, []);
  }

  onLeave(client) {
    this.state.players.delete(client.sessionId);
    this.queues.delete(client.sessionId);
  }
}

const httpServer = http.createServer(async (req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
  } else if (req.url === "/metrics") {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(metricsText());
  } else if (req.url === "/bench/rooms") {
    const rooms = await matchMaker.query({ name: "arena" });
    const out = {};
    for (const r of rooms) out[r.roomId] = r.clients;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
  } else {
    res.writeHead(404).end();
  }
});

const gameServer = new Server({ transport: new WebSocketTransport({ server: httpServer }), greet: false });
gameServer.define("arena", ArenaRoom);
await gameServer.listen(port, host);
console.log(`colyseus arena server on ${host}:${port}, node ${process.version}, pid ${process.pid}, tick ${tickMs} ms, patch ${args.patch}, ${maxClients} clients per room`);
setTimeout(() => {
  console.log("max-runtime reached: exiting");
  process.exit(0);
}, parseGoDuration(args["max-runtime"])).unref();
