// Packs chunks for upload: chunks of concurrent requests are appended to one open pack, which
// is sealed when it reaches packMaxBytes or packIdleMs after its last append (at most
// 8 × packIdleMs after its first), uploaded as packs/<id>.pack (packs/<node>/<id>.pack in a
// cluster), and committed to the index in one transaction. A chunk's promise resolves only then:
// an answered upload is durable.
import { getLogger } from "@logtape/logtape";
import { StrataError } from "../../core/errors.ts";
import type { ArtefactLimits } from "./artefact-limits.ts";
import type { ArtefactMetrics } from "./artefact-metrics.ts";
import type { ChunkIndex } from "./chunk-index.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { PackBuilder, packKey, type PackLayout } from "./pack-format.ts";

const log = getLogger(["strata", "artefacts"]);

/** A pack's idle timer is not pushed back once the pack is this many idle periods old. */
const MAX_AGE_IDLE_PERIODS = 8;

export interface VerifiedChunk {
  /** 32 bytes, already checked against `data`. */
  readonly hash: Uint8Array;
  readonly hex: string;
  readonly data: Uint8Array;
}

interface OpenPack {
  readonly builder: PackBuilder;
  readonly durable: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  readonly openedAt: number;
  timer: ReturnType<typeof setTimeout> | null;
}

export class PackWriter {
  readonly #store: ObjectStore;
  readonly #index: ChunkIndex;
  readonly #limits: ArtefactLimits;
  readonly #metrics: ArtefactMetrics;
  readonly #layout: PackLayout;
  readonly #onUploaded: (pack: string, key: string, bytes: number) => void;
  #open: OpenPack | null = null;
  /** Chunks appended but not yet committed: hash → the promise of their pack. */
  readonly #pending = new Map<string, Promise<void>>();
  #pendingBytes = 0;
  readonly #uploads = new Set<Promise<void>>();
  #closed = false;

  constructor(store: ObjectStore, index: ChunkIndex, limits: ArtefactLimits, metrics: ArtefactMetrics, layout: PackLayout, onUploaded: (pack: string, key: string, bytes: number) => void) {
    this.#store = store;
    this.#layout = layout;
    this.#index = index;
    this.#limits = limits;
    this.#metrics = metrics;
    this.#onUploaded = onUploaded;
  }

  /** The durability promise of a chunk appended by an earlier request, if it is still in flight. */
  pendingFor(hex: string): Promise<void> | undefined {
    return this.#pending.get(hex);
  }

  /** Appends chunks (none of them indexed or pending); resolves once all are durable. */
  add(chunks: readonly VerifiedChunk[]): Promise<void> {
    if (this.#closed) throw new StrataError("UNAVAILABLE", "the chunk store is closing");
    const bytes = chunks.reduce((n, c) => n + c.data.length, 0);
    if (this.#pendingBytes + bytes > this.#limits.maxPendingPackBytes) {
      throw new StrataError("UNAVAILABLE", `${this.#pendingBytes} chunk bytes are waiting for upload; retry later`);
    }
    const waits = new Set<Promise<void>>();
    for (const c of chunks) {
      if (this.#pending.has(c.hex)) {
        waits.add(this.#pending.get(c.hex)!);
        continue;
      }
      let open = this.#open;
      if (open && open.builder.bytes + c.data.length + 36 > this.#limits.packMaxBytes) {
        this.#seal(open);
        open = null;
      }
      open ??= this.#openPack();
      open.builder.append(c.hash, c.data);
      this.#pending.set(c.hex, open.durable);
      this.#pendingBytes += c.data.length;
      waits.add(open.durable);
    }
    const open = this.#open;
    if (open) this.#armTimer(open);
    return Promise.all(waits).then(() => undefined);
  }

  /** Seals the open pack and waits for every upload. */
  async flush(): Promise<void> {
    if (this.#open) this.#seal(this.#open);
    while (this.#uploads.size > 0) await Promise.allSettled([...this.#uploads]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #openPack(): OpenPack {
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const durable = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Rejections are delivered to the requests awaiting them; never unhandled.
    durable.catch(() => undefined);
    this.#open = { builder: new PackBuilder(), durable, resolve, reject, openedAt: Date.now(), timer: null };
    return this.#open;
  }

  #armTimer(open: OpenPack): void {
    if (open.timer && Date.now() - open.openedAt >= MAX_AGE_IDLE_PERIODS * this.#limits.packIdleMs) return;
    if (open.timer) clearTimeout(open.timer);
    open.timer = setTimeout(() => this.#seal(open), this.#limits.packIdleMs);
  }

  #seal(open: OpenPack): void {
    if (this.#open === open) this.#open = null;
    if (open.timer) clearTimeout(open.timer);
    open.timer = null;
    const upload = this.#upload(open.builder).then(open.resolve, open.reject).finally(() => {
      for (const e of open.builder.entries) this.#pending.delete(e.hash);
      this.#pendingBytes -= open.builder.entries.reduce((n, e) => n + e.length, 0);
      this.#uploads.delete(upload);
    });
    this.#uploads.add(upload);
  }

  async #upload(builder: PackBuilder): Promise<void> {
    // The id is fixed here, at seal: its time bounds how late the commit may come (node-fence.ts).
    const key = packKey(builder.id, this.#layout);
    const size = builder.bytes;
    // Big packs go up as a multipart stream of their pieces: no second copy of the pack in memory.
    if (size >= this.#limits.packMultipartMinBytes) await this.#store.putMultipart(key, builder.parts());
    else await this.#store.put(key, builder.encode());
    this.#onUploaded(builder.id, key, size);
    const now = Date.now();
    const inserted = await this.#index.commitPack({ id: builder.id, objectKey: key, bytes: size, chunkCount: builder.entries.length, createdAt: now }, builder.entries, now);
    this.#metrics.packsUploaded.inc();
    // Every chunk was indexed meanwhile (another gateway of a cluster stored the same ones): the
    // pack is redundant. The chunks are durable either way, so a failure here only leaves it to GC.
    if (inserted === 0) await this.#dropRedundant(builder.id, key);
    this.#metrics.chunksStored.inc({}, inserted);
    this.#metrics.chunkBytesStored.inc({}, builder.entries.reduce((n, e) => n + e.length, 0));
  }

  async #dropRedundant(id: string, key: string): Promise<void> {
    try {
      if (await this.#index.dropEmptyPack(id)) await this.#store.delete(key);
    } catch (e) {
      log.warn("pack {id} holds only chunks indexed elsewhere and could not be dropped; GC will: {error}", { id, error: e });
    }
  }
}
