// Starts Debian's redis-server (/usr/bin/redis-server) on a free 127.0.0.1 port without
// persistence, for the cluster tests; stopped by PID. A missing redis-server is an error (the
// tests that need it fail, never skip).
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { freePort } from "./server.js";

export interface RunningRedis {
  url: string;
  port: number;
  stop(): void;
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
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}
