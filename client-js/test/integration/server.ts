// Starts the real tickrelay server for integration and browser tests: builds it once per test run
// (`go build -o <tmp>/tickrelay ./server/cmd/tickrelay` from the repo root, or uses
// $TICKRELAY_BIN), runs it on a free 127.0.0.1 port (or a given one, to restart a server in
// place), and waits for GET /healthz, not a sleep. Nothing here skips: a server that cannot be
// built or does not become healthy is an error, so the suite using it fails.
//
// Every process started here is remembered by PID; stopAll() (call it in afterAll) SIGTERMs
// whatever is still running and SIGKILLs what has not exited 5 s later.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll } from "vitest";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * The HS256 secret every test server gets (≥ 32 bytes), so that a token from one server
 * process stays valid on its replacement (without it each process picks a random one).
 */
export const TEST_SECRET = "tickrelay-js-integration-tests-fixed-secret-0123456789";

export interface RunningServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT/ws */
  wsUrl: string;
  port: number;
  /** The server process's PID. */
  pid: number;
  /** Everything the process printed so far. */
  logs(): string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM (a graceful shutdown), then SIGKILL if it has not exited after `killAfterMs`. */
  stop(killAfterMs?: number): Promise<void>;
}

export interface StartOptions {
  /** Extra flags, appended after --listen/--admin/--secret. */
  args?: string[];
  /** Listen on this port (e.g. the port of a server that was just stopped); default a free one. */
  port?: number;
  /** Default TEST_SECRET. */
  secret?: string;
  /** How long to wait for /healthz, ms. Default 20000. */
  readyTimeoutMs?: number;
}

const running = new Map<number, RunningServer>();
let built: Promise<string> | null = null;

/** The server binary: $TICKRELAY_BIN, or built once into a temp dir. Rejects if it can't be had. */
export function serverBinary(): Promise<string> {
  const env = process.env.TICKRELAY_BIN;
  if (env) {
    return existsSync(env)
      ? Promise.resolve(env)
      : Promise.reject(new Error(`TICKRELAY_BIN=${env} does not exist: unset it to build the server with go build`));
  }
  built ??= new Promise((resolve, reject) => {
    const out = join(mkdtempSync(join(tmpdir(), "tickrelay-js-")), "tickrelay");
    execFile("go", ["build", "-o", out, "./server/cmd/tickrelay"], { cwd: REPO_ROOT, timeout: 300_000 }, (err, _o, stderr) =>
      err
        ? reject(
            new Error(
              `cannot build the tickrelay server (go build -o ${out} ./server/cmd/tickrelay in ${REPO_ROOT}): ` +
                `${stderr || err.message}${(err as NodeJS.ErrnoException).code === "ENOENT" ? " (is Go installed and on PATH?)" : ""}`,
            ),
          )
        : resolve(out),
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

/**
 * Starts the server with `--listen 127.0.0.1:PORT --admin= --secret TEST_SECRET --guest-burst 1000` plus
 * `opts.args`, and resolves once GET /healthz answers 200. On a random port it retries a few
 * times (another process may take the port in between); on a given port it does not.
 */
export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const bin = await serverBinary();
  const attempts = opts.port ? 1 : 3;
  let lastErr: Error | null = null;
  for (let i = 0; i < attempts; i++) {
    const port = opts.port ?? (await freePort());
    try {
      return await launch(bin, port, opts);
    } catch (err) {
      lastErr = err as Error;
    }
  }
  throw lastErr!;
}

/**
 * For a test file: starts a server in beforeAll and stops every server in afterAll. Returns a
 * getter that each test calls; if the server could not be built or started, the getter throws
 * that error, so every test fails with it (rather than being reported as skipped).
 */
export function useServer(opts: StartOptions = {}): () => RunningServer {
  let srv: RunningServer | undefined;
  let err: unknown;
  beforeAll(async () => {
    try {
      srv = await startServer(opts);
    } catch (e) {
      err = e;
    }
  });
  afterAll(stopAll);
  return () => {
    if (err) throw err;
    if (!srv) throw new Error("the tickrelay server was not started (beforeAll did not run?)");
    return srv;
  };
}

/** Stops every server process this module started that is still running (by PID). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running.values()].map((s) => s.stop()));
}

async function launch(bin: string, port: number, opts: StartOptions): Promise<RunningServer> {
  const args = [
    "--listen",
    `127.0.0.1:${port}`,
    "--admin=", // pprof off: one port less to race for
    "--secret",
    opts.secret ?? TEST_SECRET,
    // Every test client shares 127.0.0.1: the per-IP guest-token budget (burst 20) is for the
    // open internet, not for a suite that makes a few dozen guests a second. opts.args may
    // set it back (the last value wins).
    "--guest-burst",
    "1000",
    ...(opts.args ?? []),
  ];
  const proc: ChildProcess = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  let exitedNow = false;
  const exited = new Promise<number | string>((resolve) => {
    proc.once("error", (err) => {
      out += `\nspawn ${bin}: ${err.message}`;
      exitedNow = true;
      resolve(-1);
    });
    proc.once("exit", (code, signal) => {
      exitedNow = true;
      resolve(code ?? signal ?? -1);
    });
  });
  const pid = proc.pid ?? -1;
  const stop = async (killAfterMs = 5000) => {
    if (exitedNow || pid <= 0) return;
    process.kill(pid, "SIGTERM");
    const t = setTimeout(() => {
      if (!exitedNow) process.kill(pid, "SIGKILL");
    }, killAfterMs);
    await exited;
    clearTimeout(t);
  };
  const url = `http://127.0.0.1:${port}`;
  const srv: RunningServer = { url, wsUrl: `ws://127.0.0.1:${port}/ws`, port, pid, logs: () => out, exited, stop };
  if (pid > 0) running.set(pid, srv);
  void exited.then(() => running.delete(pid));

  const readyMs = opts.readyTimeoutMs ?? 20_000;
  const deadline = Date.now() + readyMs;
  for (;;) {
    if (exitedNow) throw new Error(`tickrelay server (port ${port}) exited before it was healthy:\n${out}`);
    try {
      const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop(1000);
      throw new Error(`tickrelay server (port ${port}) not healthy within ${readyMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return srv;
}
