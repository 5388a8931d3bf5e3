// Starts the real tickrelay server for integration tests: builds it once per test run
// (`go build -o <tmp>/tickrelay ./server/cmd/tickrelay` from the repo root, or uses
// $TICKRELAY_BIN), runs it on a free 127.0.0.1 port, and waits for GET /healthz, not a sleep.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** Whether the server's sources exist yet (phase 1: they may not). */
export const SERVER_PRESENT = existsSync(join(REPO_ROOT, "server/cmd/tickrelay"));

export interface RunningServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT/ws */
  wsUrl: string;
  /** Everything the process printed so far. */
  logs(): string;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

let built: Promise<string> | null = null;

/** The server binary: $TICKRELAY_BIN, or built once into a temp dir. */
export function serverBinary(): Promise<string> {
  const env = process.env.TICKRELAY_BIN;
  if (env) return Promise.resolve(env);
  built ??= new Promise((resolve, reject) => {
    const out = join(mkdtempSync(join(tmpdir(), "tickrelay-js-")), "tickrelay");
    execFile("go", ["build", "-o", out, "./server/cmd/tickrelay"], { cwd: REPO_ROOT, timeout: 300_000 }, (err, _o, stderr) =>
      err ? reject(new Error(`go build failed: ${stderr || err.message}`)) : resolve(out),
    );
  });
  return built;
}

/** A port that was free a moment ago (the server may still lose a race for it: we retry). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Starts the server with `args` appended to `--listen 127.0.0.1:PORT --admin 127.0.0.1:PORT2`. */
export async function startServer(args: string[] = [], attempts = 3): Promise<RunningServer> {
  const bin = await serverBinary();
  let lastErr: Error | null = null;
  for (let i = 0; i < attempts; i++) {
    const port = await freePort();
    const admin = await freePort();
    try {
      return await launch(bin, port, ["--listen", `127.0.0.1:${port}`, "--admin", `127.0.0.1:${admin}`, ...args]);
    } catch (err) {
      lastErr = err as Error; // most likely the port was taken in between: try another
    }
  }
  throw lastErr!;
}

async function launch(bin: string, port: number, args: string[]): Promise<RunningServer> {
  const proc: ChildProcess = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  let exited = false;
  const exit = new Promise<void>((r) => proc.once("exit", () => ((exited = true), r())));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    proc.kill("SIGTERM");
    const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await exit;
    clearTimeout(t);
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`server exited before it was ready:\n${out}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`server not ready within 15 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, wsUrl: `ws://127.0.0.1:${port}/ws`, logs: () => out, stop };
}
