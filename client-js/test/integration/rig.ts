// A cluster for a test file: a real redis-server and one server process per node name, all
// started with --redis; stopped (by PID) after the file's tests.
import { afterAll, beforeAll } from "vitest";
import { type RunningRedis, startRedis } from "./redis.js";
import { type RunningServer, startServer, stopAll } from "./server.js";

export interface Cluster<N extends string> {
  redis: RunningRedis;
  /** The instances by node name. */
  node: Record<N, RunningServer>;
}

/**
 * Starts the cluster in beforeAll (instances in the order named, each with `--node NAME` and
 * `extra` flags) and stops it in afterAll. Returns a getter; if anything could not be started
 * the getter throws that error, so every test fails with it (never skipped).
 */
export function useCluster<N extends string>(nodes: readonly N[], extra: string[] = []): () => Cluster<N> {
  let cluster: Cluster<N> | undefined;
  let redis: RunningRedis | undefined;
  let err: unknown;
  beforeAll(async () => {
    try {
      redis = await startRedis();
      const node = {} as Record<N, RunningServer>;
      for (const name of nodes) node[name] = await startServer({ args: ["--redis", redis.url, "--node", name, ...extra] });
      cluster = { redis, node };
    } catch (e) {
      err = e;
    }
  });
  afterAll(async () => {
    await stopAll();
    redis?.stop();
  });
  return () => {
    if (err) throw err;
    if (!cluster) throw new Error("the cluster was not started (beforeAll did not run?)");
    return cluster;
  };
}
