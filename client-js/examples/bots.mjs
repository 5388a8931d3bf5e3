#!/usr/bin/env node
// Bots: N guests join one match and send random [dx, dy] inputs at 20 Hz, then print RTT and
// input-ack latency statistics and stop by themselves. Any game whose input is [dx, dy] works:
// arena (the default), or the tag example (--game tag, on a server built with it).
//
//   npm run build
//   node examples/bots.mjs --url http://127.0.0.1:8080 --bots 10 --seconds 30 [--game arena] [--match ID] [--hz 20]
//
// Without --match, the bots take a public match of --game with enough free seats, or create one.
import { parseArgs } from "node:util";
import WebSocket from "ws";

let sdk;
try {
  sdk = await import("../dist/index.js");
} catch (err) {
  console.error(`cannot load the SDK from dist/ (run \`npm run build\` first): ${err.message}`);
  process.exit(2);
}
const { Client, Match, ConnectionState } = sdk;

const { values: args } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:8080" },
    bots: { type: "string", default: "10" },
    seconds: { type: "string", default: "30" },
    hz: { type: "string", default: "20" },
    game: { type: "string", default: "arena" },
    match: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (args.help) {
  console.log("usage: node examples/bots.mjs [--url http://127.0.0.1:8080] [--bots 10] [--seconds 30] [--hz 20] [--game arena] [--match ID]");
  process.exit(0);
}
const nBots = positive("bots");
const seconds = positive("seconds");
const hz = positive("hz");

function positive(name) {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`--${name} wants a positive number, got ${args[name]}`);
    process.exit(2);
  }
  return v;
}

const stats = { rtt: [], ack: [], inputs: 0, acked: 0, deltas: 0, gaps: 0, reconnects: 0, errors: 0 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The match: --match, a public one with room for everyone, or a new one. */
async function pickMatch(client) {
  if (args.match) return { id: args.match };
  const free = await client.listMatches({ game: args.game, free: true });
  const fit = free.find((m) => m.max_players - m.players >= nBots);
  if (fit) return { id: fit.id };
  // The creator's seat reservation is bound to the lead's identity and left to expire; the bots
  // (each its own guest) join the public match by id.
  const { match } = await client.createMatch({
    game: args.game,
    max_players: Math.max(16, nBots + 4),
    label: { by: "bots" },
  });
  return { id: match.id };
}

async function startBot(i, matchId) {
  const client = new Client({ url: args.url, connection: { WebSocket } });
  await client.authGuest(`bot${i}`);
  const conn = client.connection();
  conn.on("state", (s) => {
    if (s.state === ConnectionState.RECONNECTING && s.prev === ConnectionState.CONNECTED) stats.reconnects++;
  });
  conn.on("error", () => stats.errors++);
  await conn.connect();

  const match = new Match(conn);
  const sentAt = new Map(); // seq -> send time, in send order
  match.on("ack", (seq) => {
    const now = performance.now();
    for (const [s, t] of sentAt) {
      if (s > seq) break;
      stats.ack.push(now - t);
      stats.acked++;
      sentAt.delete(s);
    }
  });
  match.on("delta", () => stats.deltas++);
  match.on("gap", () => stats.gaps++);
  match.on("error", () => stats.errors++);
  await match.join(matchId);

  let dir = [0, 0];
  let turns = 0;
  const input = setInterval(() => {
    if (turns-- <= 0) {
      // A new random heading every 0.5-2 s.
      const a = Math.random() * 2 * Math.PI;
      dir = [Math.cos(a), Math.sin(a)];
      turns = Math.floor(hz * (0.5 + Math.random() * 1.5));
    }
    const seq = match.sendInput(dir);
    if (seq) {
      sentAt.set(seq, performance.now());
      stats.inputs++;
    }
  }, 1000 / hz);
  const pinger = setInterval(() => {
    conn.ping().then(
      (r) => stats.rtt.push(r.rtt),
      () => {},
    );
  }, 1000);

  return {
    async stop() {
      clearInterval(input);
      clearInterval(pinger);
      await Promise.race([match.leave().catch(() => {}), sleep(2000)]);
      conn.close();
    },
  };
}

function summary(name, xs) {
  if (!xs.length) return `${name.padEnd(12)} no samples`;
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const f = (x) => x.toFixed(2).padStart(8);
  return `${name.padEnd(12)} n=${String(s.length).padEnd(7)} mean ${f(mean)}  p50 ${f(q(0.5))}  p90 ${f(q(0.9))}  p99 ${f(q(0.99))}  max ${f(s.at(-1))}  ms`;
}

async function main() {
  const lead = new Client({ url: args.url });
  await lead.authGuest("bots-lead");
  const first = await pickMatch(lead);
  console.log(`${args.game} match ${first.id}: starting ${nBots} bot(s) for ${seconds}s at ${hz} Hz`);
  const bots = [];
  for (let i = 0; i < nBots; i++) {
    bots.push(
      startBot(i, first.id).catch((err) => {
        console.error(`bot${i}: ${err.message}`);
        return null;
      }),
    );
    await sleep(20); // no thundering herd
  }
  const running = (await Promise.all(bots)).filter(Boolean);
  console.log(`${running.length}/${nBots} bot(s) in the match`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(running.map((b) => b.stop()));
    console.log(summary("rtt", stats.rtt));
    console.log(summary("ack latency", stats.ack));
    console.log(
      `inputs sent ${stats.inputs}, acked ${stats.acked}, deltas ${stats.deltas}, gaps ${stats.gaps}, ` +
        `reconnects ${stats.reconnects}, errors ${stats.errors}`,
    );
    process.exit(running.length ? 0 : 1);
  };
  process.once("SIGINT", stop);
  setTimeout(stop, seconds * 1000);
}

main().catch((err) => {
  console.error(err.message ?? err);
  process.exit(1);
});
