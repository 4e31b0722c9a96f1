// The gradient tables (gateway/db/gradients-schema.ts): a step's signature and each rank's accepted
// contribution. A reservation writes the contribution's row, and the step's signature when it is
// the first, in one transaction; the record's position is set once it is appended.
import { and, eq, lte, max } from "drizzle-orm";
import { z } from "zod";
import { invariant, StrataError } from "../../core/errors.ts";
import { parseInput } from "../../core/util/parse-input.ts";
import type { MetadataDb } from "../db/database.ts";
import { gradientContributions, gradientSteps } from "../db/schema.ts";
import { checkSignature, encodeSignature, type StepSignature } from "./contribution.ts";
import { GRADIENT_DTYPES } from "./gradient-wire.ts";

const storedSignatureSchema = z.tuple([z.number().int().min(1), z.array(z.tuple([z.string(), z.enum(GRADIENT_DTYPES), z.array(z.number().int().nonnegative())]))]);

function decodeSignature(text: string): StepSignature {
  const [worldSize, tensors] = parseInput(storedSignatureSchema, JSON.parse(text), "stored gradient signature");
  return { worldSize, tensors };
}

/** An accepted contribution's row: appended (with its position) or only reserved. */
export type StoredContribution =
  | { readonly kind: "reserved"; readonly digest: string }
  | { readonly kind: "appended"; readonly digest: string; readonly partition: number; readonly offset: number };

export interface Reservation {
  readonly stream: string;
  readonly step: number;
  readonly rank: number;
  readonly digest: string;
  readonly signature: StepSignature;
  /** Steps per stream whose signatures are kept (gradients.signatureStepsKept). */
  readonly stepsKept: number;
  readonly now: number;
}

export class GradientStore {
  constructor(private readonly db: MetadataDb) {}

  async contribution(stream: string, step: number, rank: number): Promise<StoredContribution | undefined> {
    const [row] = await this.db
      .select()
      .from(gradientContributions)
      .where(and(eq(gradientContributions.stream, stream), eq(gradientContributions.step, step), eq(gradientContributions.rank, rank)));
    if (row === undefined) return undefined;
    if (row.partition === null || row.offset === null) {
      invariant(row.partition === null && row.offset === null, `gradient contribution ${stream}/${step}/${rank} has half a position`);
      return { kind: "reserved", digest: row.digest };
    }
    return { kind: "appended", digest: row.digest, partition: row.partition, offset: row.offset };
  }

  /**
   * Accepts a contribution: fixes the step's signature if it has none (and forgets the signatures
   * of steps that fall out of the kept window), or checks it against the stored one
   * (TENSOR_MISMATCH), and inserts the rank's row. Nothing is written when it throws.
   */
  async reserve(r: Reservation): Promise<void> {
    await this.db.transaction(async (tx) => {
      const [existing] = await tx
        .select({ signature: gradientSteps.signature })
        .from(gradientSteps)
        .where(and(eq(gradientSteps.stream, r.stream), eq(gradientSteps.step, r.step)));
      if (existing !== undefined) {
        checkSignature(r.step, decodeSignature(existing.signature), r.signature);
      } else {
        const [latest] = await tx.select({ step: max(gradientSteps.step) }).from(gradientSteps).where(eq(gradientSteps.stream, r.stream));
        const highest = latest?.step ?? null;
        if (highest !== null && r.step <= highest - r.stepsKept) {
          throw new StrataError("BAD_REQUEST", `step ${r.step} is older than the ${r.stepsKept} most recent steps of ${r.stream} (the latest is ${highest}); its signature is no longer kept`);
        }
        await tx.insert(gradientSteps).values({ stream: r.stream, step: r.step, worldSize: r.signature.worldSize, signature: encodeSignature(r.signature), createdAt: r.now });
        const floor = Math.max(highest ?? r.step, r.step) - r.stepsKept;
        await tx.delete(gradientContributions).where(and(eq(gradientContributions.stream, r.stream), lte(gradientContributions.step, floor)));
        await tx.delete(gradientSteps).where(and(eq(gradientSteps.stream, r.stream), lte(gradientSteps.step, floor)));
      }
      await tx.insert(gradientContributions).values({ stream: r.stream, step: r.step, rank: r.rank, digest: r.digest, acceptedAt: r.now });
    });
  }

  async setPosition(stream: string, step: number, rank: number, partition: number, offset: number): Promise<void> {
    await this.db
      .update(gradientContributions)
      .set({ partition, offset })
      .where(and(eq(gradientContributions.stream, stream), eq(gradientContributions.step, step), eq(gradientContributions.rank, rank)));
  }

  /** Undoes a reservation whose append failed; the step's signature goes with its last contribution. */
  async release(stream: string, step: number, rank: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.delete(gradientContributions).where(and(eq(gradientContributions.stream, stream), eq(gradientContributions.step, step), eq(gradientContributions.rank, rank)));
      const [left] = await tx.select({ rank: gradientContributions.rank }).from(gradientContributions).where(and(eq(gradientContributions.stream, stream), eq(gradientContributions.step, step))).limit(1);
      if (left === undefined) await tx.delete(gradientSteps).where(and(eq(gradientSteps.stream, stream), eq(gradientSteps.step, step)));
    });
  }
}
