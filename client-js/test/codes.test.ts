// The SDK's code table must equal protocol/testdata/codes.json, name for name and value for value.
import { describe, expect, it } from "vitest";
import {
  CloseCode,
  EndReason,
  ErrorCode,
  EventKind,
  LeaveReason,
  Op,
  RECONNECTABLE_RANGE,
  RECONNECTABLE_STANDARD,
  TERMINAL_RANGE,
  codeName,
  reconnectable,
} from "../src/index.js";
import { type CodeEntry, loadCodes } from "./helpers/golden.js";

const codes = loadCodes();
const asObject = (entries: CodeEntry[]) => Object.fromEntries(entries.map((e) => [e.name, e.value]));

describe("codes.json", () => {
  const tables: [string, Record<string, number>, CodeEntry[]][] = [
    ["ops", Op, codes.ops],
    ["errors", ErrorCode, codes.errors],
    ["close", CloseCode, codes.close],
    ["events", EventKind, codes.events],
    ["leave", LeaveReason, codes.leave],
    ["end", EndReason, codes.end],
  ];
  for (const [name, table, entries] of tables) {
    it(`${name} match`, () => {
      expect(entries.length).toBeGreaterThan(0);
      expect({ ...table }).toEqual(asObject(entries));
    });
  }

  it("reconnectable ranges match", () => {
    expect([...RECONNECTABLE_STANDARD]).toEqual(codes.reconnectable_standard);
    expect([...RECONNECTABLE_RANGE]).toEqual(codes.reconnectable_range);
    expect([...TERMINAL_RANGE]).toEqual(codes.terminal_range);
  });

  it("reconnectable() follows the table", () => {
    for (const c of codes.reconnectable_standard) expect(reconnectable(c), String(c)).toBe(true);
    const [lo, hi] = codes.reconnectable_range;
    for (let c = lo; c <= hi; c++) expect(reconnectable(c)).toBe(true);
    const [tlo, thi] = codes.terminal_range;
    for (let c = tlo; c <= thi; c++) expect(reconnectable(c)).toBe(false);
    for (const c of [1000, 1002, 1003, 1008, 1009, 0, 3000, 3999]) expect(reconnectable(c), String(c)).toBe(false);
    for (const e of codes.close) {
      const expected = codes.reconnectable_standard.includes(e.value) || (e.value >= lo && e.value <= hi);
      expect(reconnectable(e.value), e.name).toBe(expected);
    }
  });

  it("codeName", () => {
    expect(codeName(ErrorCode, 5)).toBe("MATCH_FULL");
    expect(codeName(CloseCode, 4104)).toBe("REPLACED");
    expect(codeName(Op, 999)).toBe("");
  });
});
