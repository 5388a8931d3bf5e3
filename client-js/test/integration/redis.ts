// Starts Debian's redis-server (/usr/bin/redis-server) on a free 127.0.0.1 port without
// persistence, for the cluster tests; stopped by PID. A missing redis-server is an error (the
// tests that need it fail, never skip).
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { freePort } from "./server.js";

export interface RunningRedis {
  url: string;
  port: number;
  /** GET key (a bulk string or null), over a connection of its own. */
  get(key: string): Promise<string | null>;
  stop(): void;
}

/** One RESP command on a fresh connection; resolves with its bulk-string reply (null for nil). */
function getKey(port: number, key: string): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(`*2\r\n$3\r\nGET\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n`));
    let buf = Buffer.alloc(0);
    s.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      const eol = buf.indexOf("\r\n");
      if (eol < 0) return;
      const head = buf.subarray(0, eol).toString();
      if (head === "$-1") {
        s.destroy();
        return resolve(null);
      }
      if (!head.startsWith("$")) {
        s.destroy();
        return reject(new Error(`redis GET ${key}: ${head}`));
      }
      const n = Number(head.slice(1));
      if (buf.length < eol + 2 + n) return;
      s.destroy();
      resolve(buf.subarray(eol + 2, eol + 2 + n).toString());
    });
    s.once("error", reject);
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1", () => s.write("PING\r\n"));
    s.once("data", (d) => {
      s.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
    s.once("error", () => resolve(false));
  });
}

export async function startRedis(): Promise<RunningRedis> {
  const port = await freePort();
  const proc: ChildProcess = spawn(
    process.env.TICKRELAY_REDIS_SERVER || "/usr/bin/redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const failed = new Promise<never>((_, reject) => proc.once("error", (e) => reject(new Error(`redis-server: ${e.message} (make deps installs it)`))));
  const stop = () => {
    if (proc.pid && proc.exitCode === null) proc.kill("SIGKILL");
  };
  const ready = (async () => {
    for (let i = 0; i < 200; i++) {
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    stop();
    throw new Error(`redis-server did not answer on port ${port}`);
  })();
  await Promise.race([ready, failed]);
  return { url: `redis://127.0.0.1:${port}`, port, get: (key) => getKey(port, key), stop };
}
