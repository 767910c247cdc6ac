/**
 * Tool-definition pinning. The first definition the gateway sees for a tool is pinned (trust on
 * first use, or pre-seeded); a different definition later is a "rug pull": the tool is
 * quarantined (hidden from tools/list, every call forbidden) until an admin accepts the new hash.
 */
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';

export type PinState =
  | { readonly status: 'pinned'; readonly hash: string }
  | { readonly status: 'quarantined'; readonly pinned: string; readonly seen: string };

export interface PinStore {
  /** Pins on first sight; answers quarantined when `hash` differs from the pin. */
  check(connector: string, tool: string, hash: string): Promise<PinState>;
  /** Accepts `hash` as the tool's definition (the admin's decision). */
  accept(connector: string, tool: string, hash: string): Promise<void>;
}

export class MemoryPinStore implements PinStore {
  protected pins = new Map<string, string>();
  async check(connector: string, tool: string, hash: string): Promise<PinState> {
    const k = `${connector}\u0000${tool}`;
    const pinned = this.pins.get(k);
    if (pinned === undefined) {
      this.pins.set(k, hash);
      this.save();
      return { status: 'pinned', hash };
    }
    return pinned === hash ? { status: 'pinned', hash } : { status: 'quarantined', pinned, seen: hash };
  }
  async accept(connector: string, tool: string, hash: string): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error('a definition hash is 64 hex characters');
    this.pins.set(`${connector}\u0000${tool}`, hash);
    this.save();
  }
  protected save(): void {}
}

/** Pins kept in a JSON file (`{"<connector>": {"<tool>": "<sha256>"}}`), so they survive restarts. */
export class FilePinStore extends MemoryPinStore {
  constructor(private readonly file: string) {
    super();
    if (existsSync(file)) {
      const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
      for (const [c, tools] of Object.entries(doc))
        for (const [t, h] of Object.entries(tools)) this.pins.set(`${c}\u0000${t}`, h);
    }
  }
  protected override save(): void {
    const doc: Record<string, Record<string, string>> = {};
    for (const [k, h] of this.pins) {
      const [c, t] = k.split('\u0000') as [string, string];
      doc[c] ??= {};
      doc[c]![t] = h;
    }
    writeFileSync(`${this.file}.tmp`, JSON.stringify(doc, null, 2));
    renameSync(`${this.file}.tmp`, this.file);
  }
}

/**
 * ARX's accepted hashes (`POST /v1/connectors/{name}/tools/{tool}/accept`, read through
 * `GET /v1/connectors/{name}/tools/pins`, cached `ttlMs`) override the local pins: a tool an
 * admin pinned is usable only with that definition; other tools are pinned on first use locally.
 * An unreadable accepted list quarantines everything (fail closed).
 */
export class ArxBackedPinStore implements PinStore {
  private cache: { at: number; pins: Promise<Record<string, string>> } | undefined;
  constructor(
    private readonly local: PinStore,
    private readonly fetchPins: () => Promise<Record<string, string>>,
    private readonly ttlMs = 1000,
  ) {}
  private accepted(): Promise<Record<string, string>> {
    if (!this.cache || Date.now() - this.cache.at > this.ttlMs) {
      const pins = this.fetchPins();
      this.cache = { at: Date.now(), pins };
      pins.catch(() => (this.cache = undefined));
    }
    return this.cache.pins;
  }
  async check(connector: string, tool: string, hash: string): Promise<PinState> {
    let acc: Record<string, string>;
    try {
      acc = await this.accepted();
    } catch {
      return { status: 'quarantined', pinned: 'unknown (ARX unreachable)', seen: hash };
    }
    const a = Object.hasOwn(acc, tool) ? acc[tool] : undefined;
    if (a === undefined) return this.local.check(connector, tool, hash);
    if (a !== hash) return { status: 'quarantined', pinned: a, seen: hash };
    await this.local.accept(connector, tool, hash);
    return { status: 'pinned', hash };
  }
  accept(connector: string, tool: string, hash: string): Promise<void> {
    this.cache = undefined;
    return this.local.accept(connector, tool, hash);
  }
}
