// A gradient contribution checked and reduced to what the step's validation compares: its tensors
// as log values (F32, F16 or BF16 only), its signature (world size, names, dtypes and shapes) and
// the digest of its payload, which tells a repeated contribution from a different one.
import { StrataError } from "../../core/errors.ts";
import { Blake3Hasher } from "../../core/hashing/blake3.ts";
import { makeTensor } from "../../core/log/extensions.ts";
import { fromJsonValue } from "../../core/log/json-value.ts";
import type { BodyForm } from "../../core/log/publish-request.ts";
import type { Tensor } from "../../core/log/record.ts";
import { bytesToHex } from "../../core/util/hex.ts";
import type { GradientLimits } from "./gradient-limits.ts";
import { gradientDtype, type GradientDtype } from "./gradient-wire.ts";

/** One tensor of a signature: its name, canonical dtype and shape. */
export type TensorSignature = readonly [name: string, dtype: GradientDtype, shape: readonly number[]];

/** What every contribution of a step must agree on. Tensors are sorted by name. */
export interface StepSignature {
  readonly worldSize: number;
  readonly tensors: readonly TensorSignature[];
}

export interface Contribution {
  readonly rank: number;
  readonly worldSize: number;
  /** By name, as the record carries them. */
  readonly tensors: Readonly<Record<string, Tensor>>;
  readonly signature: StepSignature;
  /** BLAKE3 of the signature and every tensor's bytes in name order, hex. */
  readonly digest: string;
}

export interface ContributionInput {
  readonly rank: number;
  readonly world_size: number;
  readonly tensors: Readonly<Record<string, unknown>>;
}

function tensorOf(value: unknown, form: BodyForm, name: string): Tensor {
  const at = `tensors.${name}`;
  let converted: unknown;
  try {
    // JSON carries `{"$tensor": ...}`; MessagePack's Tensor extension is already a checked Tensor, but a plain map could pose as one.
    converted = form === "json" ? fromJsonValue(value, 1) : value;
    if (typeof converted === "object" && converted !== null && (converted as { kind?: unknown }).kind === "tensor") {
      const { dtype, shape, data } = converted as { dtype: unknown; shape: unknown; data: unknown };
      if (typeof dtype === "string" && Array.isArray(shape) && data instanceof Uint8Array) converted = makeTensor(dtype, shape, data);
      else converted = undefined;
    } else converted = undefined;
  } catch (e) {
    if (e instanceof StrataError) throw new StrataError(e.code, `${at}: ${e.message}`);
    throw e;
  }
  if (converted === undefined) throw new StrataError("BAD_REQUEST", `${at} must be a tensor (${form === "json" ? '{"$tensor": {dtype, shape, data}}' : "the Tensor extension"})`);
  return converted as Tensor;
}

/** Checks a decoded contribution body against the limits and reduces it (BAD_REQUEST naming the field). */
export function toContribution(body: ContributionInput, form: BodyForm, limits: GradientLimits): Contribution {
  if (body.world_size > limits.maxWorldSize) throw new StrataError("BAD_REQUEST", `world_size ${body.world_size} is over gradients.maxWorldSize (${limits.maxWorldSize})`);
  if (body.rank >= body.world_size) throw new StrataError("BAD_REQUEST", `rank ${body.rank} must be less than world_size ${body.world_size}`);
  const names = Object.keys(body.tensors).sort();
  if (names.length === 0) throw new StrataError("BAD_REQUEST", "tensors must name at least one tensor");
  // MessagePack readers (ours included) refuse a map key __proto__: such a record could not be read.
  if (names.includes("__proto__")) throw new StrataError("BAD_REQUEST", "tensors: the name __proto__ is not allowed");
  if (names.length > limits.maxTensorsPerContribution) {
    throw new StrataError("BAD_REQUEST", `tensors holds ${names.length} tensors; gradients.maxTensorsPerContribution is ${limits.maxTensorsPerContribution}`);
  }
  // Entries, not assignments: a tensor named "__proto__" stays a tensor of that name.
  const entries: [string, Tensor][] = [];
  const signatures: TensorSignature[] = [];
  let bytes = 0;
  for (const name of names) {
    const tensor = tensorOf(body.tensors[name], form, name);
    const dtype = gradientDtype(tensor.dtype);
    if (dtype === undefined) throw new StrataError("BAD_REQUEST", `tensors.${name}: dtype ${tensor.dtype} is not a gradient dtype (F32, F16 or BF16)`);
    bytes += tensor.data.byteLength;
    if (bytes > limits.maxContributionBytes) throw new StrataError("PAYLOAD_TOO_LARGE", `tensors hold more than gradients.maxContributionBytes (${limits.maxContributionBytes}) bytes of data`);
    entries.push([name, tensor]);
    signatures.push([name, dtype, [...tensor.shape]]);
  }
  const tensors: Record<string, Tensor> = Object.fromEntries(entries);
  const signature: StepSignature = { worldSize: body.world_size, tensors: signatures };
  const hasher = Blake3Hasher.create().update(encodeSignature(signature));
  for (const [, tensor] of entries) hasher.update(tensor.data);
  return { rank: body.rank, worldSize: body.world_size, tensors, signature, digest: bytesToHex(hasher.digest()) };
}

/** The signature as the metadata table stores it. */
export function encodeSignature(signature: StepSignature): string {
  return JSON.stringify([signature.worldSize, signature.tensors]);
}

const shapeText = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

/** Why `contribution` does not fit the step's stored signature (TENSOR_MISMATCH naming the tensor and what differs), or nothing. */
export function checkSignature(step: number, stored: StepSignature, contribution: StepSignature): void {
  const mismatch = (what: string): never => {
    throw new StrataError("TENSOR_MISMATCH", `step ${step}: ${what} (the step's first contribution fixed its signature)`);
  };
  if (contribution.worldSize !== stored.worldSize) mismatch(`world_size is ${contribution.worldSize}, the step's is ${stored.worldSize}`);
  const expected = new Map(stored.tensors.map((t) => [t[0], t]));
  for (const [name, dtype, shape] of contribution.tensors) {
    const want = expected.get(name);
    if (want === undefined) mismatch(`tensor ${JSON.stringify(name)} is not in the step's signature (${stored.tensors.map((t) => t[0]).join(", ")})`);
    else if (want[1] !== dtype) mismatch(`tensor ${JSON.stringify(name)} has dtype ${dtype}, the step's is ${want[1]}`);
    else if (shapeText(want[2]) !== shapeText(shape)) mismatch(`tensor ${JSON.stringify(name)} has shape ${shapeText(shape)}, the step's is ${shapeText(want[2])}`);
  }
  const given = new Set(contribution.tensors.map((t) => t[0]));
  for (const [name] of stored.tensors) if (!given.has(name)) mismatch(`tensor ${JSON.stringify(name)} is missing`);
}
