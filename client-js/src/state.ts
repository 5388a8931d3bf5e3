// The state mirror: a match's entities as plain JS objects, kept equal to the server's by
// applying the JOINED snapshot and then every DELTA in stream order.
//
// A DELTA applies only on the state it was computed from: same epoch, and `tick - since` equal
// to the mirror's tick. check() says whether one does; apply() refuses one that does not and
// leaves the mirror untouched, so the caller can ask for a repair (SYNC) and wait for CATCHUP +
// DELTAs or a JOINED that replaces everything.

import type { DeltaMsg, EntityMap, FieldMap, JoinedMsg, PrivateMap } from "./codec.js";

/** An entity's fields by name (the JOINED schema's names, or the key as a string without one). */
export type Fields = Record<string, unknown>;

/** Receives the mirror's changes, after each snapshot or delta has been applied completely. */
export interface MirrorSink {
  entityAdded?(id: number, fields: Fields): void;
  fieldChanged?(id: number, field: string, value: unknown, prev: unknown): void;
  entityRemoved?(id: number, fields: Fields): void;
}

/** What a delta means for the mirror: "ok" applies, "stale" was already applied, "gap" missed some. */
export type DeltaFit = "ok" | "stale" | "gap";

type Note =
  | [kind: 0, id: number, fields: Fields]
  | [kind: 1, id: number, field: string, value: unknown, prev: unknown]
  | [kind: 2, id: number, fields: Fields];

export class StateMirror {
  /** Epoch and tick of the state the mirror holds (0, 0 before the first snapshot). */
  epoch = 0;
  tick = 0;
  /** Whether a snapshot has been applied. */
  ready = false;
  /** Field names by key, from JOINED (null when the game gives none). */
  schema: readonly string[] | null = null;
  /**
   * Every entity you can see by id: public fields, with your private fields merged in. The
   * field objects are updated in place, so holding on to one is fine.
   */
  readonly entities = new Map<number, Fields>();

  private notes: Note[] = [];
  /** The names of your private fields, by entity (to drop them when the entity changes hands). */
  private privateNames = new Map<number, Set<string>>();

  constructor(private readonly sink: MirrorSink = {}) {}

  /** The fields of entity `id`, or undefined. */
  get(id: number): Fields | undefined {
    return this.entities.get(id);
  }

  /** The name of field `key`: schema[key] when the schema has it, else String(key). */
  fieldName(key: number): string {
    const name = this.schema?.[key];
    // A schema name must not be able to reach Object.prototype through "__proto__".
    return name === undefined || name === "__proto__" ? String(key) : name;
  }

  /** Replaces the whole state with a JOINED snapshot; notifies the difference. */
  reset(snap: Pick<JoinedMsg, "epoch" | "tick" | "state" | "private" | "schema">): void {
    this.schema = snap.schema;
    this.epoch = snap.epoch;
    this.tick = snap.tick;
    this.ready = true;
    const next = new Map<number, Fields>();
    this.privateNames.clear();
    const fill = (m: EntityMap | null, priv: boolean) => {
      if (!m) return;
      for (const [id, fm] of m) {
        let f = next.get(id);
        if (!f) next.set(id, (f = {}));
        for (const [k, v] of fm) {
          f[this.fieldName(k)] = v;
          if (priv) this.notePrivate(id, this.fieldName(k));
        }
      }
    };
    fill(snap.state, false);
    fill(snap.private, true);
    for (const [id, old] of this.entities) {
      if (!next.has(id)) {
        this.entities.delete(id);
        this.notes.push([2, id, old]);
      }
    }
    for (const [id, f] of next) {
      const old = this.entities.get(id);
      if (!old) {
        this.entities.set(id, f);
        this.notes.push([0, id, f]);
        continue;
      }
      for (const name of Object.keys(old)) {
        if (!(name in f)) {
          const prev = old[name];
          delete old[name];
          this.notes.push([1, id, name, undefined, prev]);
        }
      }
      for (const name of Object.keys(f)) {
        const prev = old[name];
        if (prev !== f[name] || !(name in old)) {
          old[name] = f[name];
          this.notes.push([1, id, name, f[name], prev]);
        }
      }
    }
    this.flush();
  }

  /** Whether `d` applies on the current state (PROTOCOL.md, "DELTA and the stream"). */
  check(d: Pick<DeltaMsg, "epoch" | "tick" | "since">): DeltaFit {
    if (!this.ready || d.epoch !== this.epoch || d.since === 0) return "gap";
    if (d.tick - d.since === this.tick) return "ok";
    return d.tick <= this.tick ? "stale" : "gap";
  }

  /**
   * Applies a delta (removed, added, updated, then your private fields) if it fits, and returns
   * true; otherwise returns false and leaves everything as it was. Removed goes first: an entity
   * removed and spawned again within one tick is in both removed and added.
   */
  apply(d: Pick<DeltaMsg, "epoch" | "tick" | "since" | "changes" | "private">): boolean {
    if (this.check(d) !== "ok") return false;
    const c = d.changes;
    if (c) {
      if (c.removed) {
        for (const id of c.removed) {
          const old = this.entities.get(id);
          this.privateNames.delete(id);
          if (old) {
            this.entities.delete(id);
            this.notes.push([2, id, old]);
          }
        }
      }
      if (c.added) {
        for (const [id, fm] of c.added) {
          const old = this.entities.get(id);
          if (old) this.upsert(id, old, fm);
          else this.addFrom(id, fm);
        }
      }
      if (c.updated) {
        for (const [id, fm] of c.updated) {
          const old = this.entities.get(id);
          // An update for an entity we never saw added is the server's bug; keep its fields.
          if (old) this.upsert(id, old, fm);
          else this.addFrom(id, fm);
        }
      }
    }
    if (d.private) this.applyPrivate(d.private);
    this.tick = d.tick;
    this.flush();
    return true;
  }

  private applyPrivate(p: PrivateMap): void {
    for (const [id, fm] of p) {
      const old = this.entities.get(id);
      if (fm === null) {
        // No longer yours: drop the private fields you had of it.
        const names = this.privateNames.get(id);
        this.privateNames.delete(id);
        if (!old || !names) continue;
        for (const name of names) {
          if (!(name in old)) continue;
          const prev = old[name];
          delete old[name];
          this.notes.push([1, id, name, undefined, prev]);
        }
        continue;
      }
      for (const [k] of fm) this.notePrivate(id, this.fieldName(k));
      if (old) this.upsert(id, old, fm);
      else this.addFrom(id, fm);
    }
  }

  private notePrivate(id: number, name: string): void {
    let names = this.privateNames.get(id);
    if (!names) this.privateNames.set(id, (names = new Set()));
    names.add(name);
  }

  /** Forgets everything (after leaving a match). */
  clear(): void {
    this.entities.clear();
    this.privateNames.clear();
    this.epoch = 0;
    this.tick = 0;
    this.ready = false;
    this.schema = null;
    this.notes = [];
  }

  private addFrom(id: number, fm: FieldMap): void {
    const f: Fields = {};
    for (const [k, v] of fm) f[this.fieldName(k)] = v;
    this.entities.set(id, f);
    this.notes.push([0, id, f]);
  }

  private upsert(id: number, f: Fields, fm: FieldMap): void {
    for (const [k, v] of fm) {
      const name = this.fieldName(k);
      const prev = f[name];
      f[name] = v;
      this.notes.push([1, id, name, v, prev]);
    }
  }

  private flush(): void {
    const notes = this.notes;
    this.notes = [];
    const s = this.sink;
    for (const n of notes) {
      if (n[0] === 0) s.entityAdded?.(n[1], n[2]);
      else if (n[0] === 1) s.fieldChanged?.(n[1], n[2], n[3], n[4]);
      else s.entityRemoved?.(n[1], n[2]);
    }
  }
}
