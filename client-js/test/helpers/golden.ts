import { readFileSync } from "node:fs";
import type { Json } from "./msgpack-json.js";

const dir = new URL("../../../protocol/testdata/", import.meta.url);

export interface Vector {
  name: string;
  dir: "c2s" | "s2c";
  meaning: { op: string; [k: string]: Json };
  hex: string;
}

export interface Golden {
  layouts: Record<string, string[]>;
  vectors: Vector[];
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(new URL("golden.json", dir), "utf8")) as Golden;
}

export interface CodeEntry {
  name: string;
  value: number;
}

export interface Codes {
  ops: CodeEntry[];
  errors: CodeEntry[];
  close: CodeEntry[];
  events: CodeEntry[];
  leave: CodeEntry[];
  end: CodeEntry[];
  reconnectable_standard: number[];
  reconnectable_range: [number, number];
  terminal_range: [number, number];
}

export function loadCodes(): Codes {
  return JSON.parse(readFileSync(new URL("codes.json", dir), "utf8")) as Codes;
}

/** A stream vector frame (protocol/testdata/streams.json, written by the Go property test). */
export interface StreamFrame {
  hex: string;
  fit: "joined" | "catchup" | "ok" | "stale" | "gap";
  epoch: number;
  tick: number;
  ack: number;
  state?: Json;
  private?: Json;
  events?: Json;
  direct?: Json;
}

export interface Streams {
  streams: { name: string; frames: StreamFrame[] }[];
}

export function loadStreams(): Streams {
  return JSON.parse(readFileSync(new URL("streams.json", dir), "utf8")) as Streams;
}
