// tickrelay duel page: "Play a duel" matchmakes into the duel queue (client.matchmake: the ticket's
// progress is pushed by the server, no polling), joins the match it lands in, and plays the card
// game of game/duel: 5 cards each from 1-10 (your hand is private), the higher card wins the
// trick, 5 tricks. Open the page in two browsers (or tabs with different ?name=) to play.
import { Client, TickrelayError } from "/sdk/tickrelay.js";

const TABLE = 1000;
const $ = (id) => document.getElementById(id);
const client = new Client();
const state = { match: null, abort: null, progress: [], results: [] };
window.tickrelayDuel = state; // for tests and the console

function log(text) {
  const li = document.createElement("li");
  li.textContent = text;
  $("log").prepend(li);
}

async function main() {
  const params = new URLSearchParams(location.search);
  const name = params.get("name") || sessionStorage.getItem("tickrelay.name") || `guest${Math.floor(Math.random() * 1000)}`;
  sessionStorage.setItem("tickrelay.name", name);
  const auth = await client.authGuest(name);
  $("me").textContent = `${auth.name}`;
  state.skill = Number(params.get("skill") || 1500);
  state.region = params.get("region") || "eu";
  $("play").disabled = false;
}

$("play").addEventListener("click", async () => {
  $("play").disabled = true;
  $("cancel").hidden = false;
  state.abort = new AbortController();
  try {
    const match = await client.matchmake({
      queue: "duel",
      properties: { skill: state.skill, region: state.region },
      signal: state.abort.signal,
      onProgress: (p) => {
        state.progress.push(p);
        const w = p.window ? ` · skill ±${p.window.skill}${p.window.region ? `, regions: ${p.window.region}` : ""}` : "";
        $("status").textContent = `${p.status} ${(p.waited / 1000).toFixed(1)} s${w}`;
      },
      setup: (m) => watch(m),
    });
    state.match = match;
    $("status").textContent = `matched: ${match.id}`;
    log(`joined duel ${match.id}`);
  } catch (err) {
    const why = err instanceof TickrelayError ? `${err.codeName}: ${err.message}` : String(err && err.message ? err.message : err);
    $("status").textContent = why;
    log(why);
    $("play").disabled = false;
  } finally {
    $("cancel").hidden = true;
  }
});

$("cancel").addEventListener("click", () => state.abort && state.abort.abort(new Error("cancelled")));

function watch(m) {
  $("board").hidden = false;
  m.on("delta", () => render(m));
  m.on("joined", () => render(m));
  m.on("gameEvent", (name, payload) => {
    if (name === "refused") log(`refused: ${payload}`);
    if (name === "trick") log(`trick: ${payload.cards.join(" vs ")}, ${payload.winner === m.pid ? "you win it" : "they win it"}`);
  });
  m.on("playerLeft", (pid) => pid !== m.pid && log("your opponent left"));
  m.on("end", (reason, result) => {
    state.results.push(result);
    const mine = m.state.get(m.pid)?.tricks ?? 0;
    log(`game over: you won ${mine} of 5 tricks`);
    $("turn").textContent = mine >= 3 ? "You won the duel!" : "You lost the duel.";
    $("hand").replaceChildren();
    m.connection.close();
    state.match = null;
    $("play").disabled = false;
    $("status").textContent = "play again?";
  });
}

function render(m) {
  const table = m.state.get(TABLE);
  if (!table) return;
  const me = m.state.get(m.pid) || {};
  const otherPid = [...m.members.keys()].find((p) => p !== m.pid);
  const them = (otherPid !== undefined && m.state.get(otherPid)) || {};
  $("round").textContent = table.round || "–";
  $("my-tricks").textContent = me.tricks ?? 0;
  $("their-tricks").textContent = them.tricks ?? 0;
  $("my-card").textContent = me.played ?? "–";
  $("their-card").textContent = them.played ?? "–";
  const myTurn = table.phase === "playing" && table.turn === m.pid;
  $("turn").textContent = table.phase === "waiting" ? "waiting for your opponent…" : myTurn ? "your turn: play a card" : "their turn";
  const hand = me.hand || [];
  $("hand").replaceChildren(
    ...hand.map((card) => {
      const b = document.createElement("button");
      b.textContent = String(card);
      b.disabled = !myTurn;
      b.addEventListener("click", () => m.sendInput([card]));
      return b;
    }),
  );
}

main().catch((err) => {
  $("status").textContent = String(err && err.message ? err.message : err);
});
