// The running sums of one step's gradients: per tensor name, an f32 accumulator (F16 and BF16
// contributions are widened first), and the mean written back in the contributions' dtype.
import { invariant, StrataError } from "../../core/errors.ts";
import { makeTensor } from "../../core/log/extensions.ts";
import type { Tensor } from "../../core/log/record.ts";
import { convertFloat } from "../../core/tensors/dtype.ts";
import { typedView } from "../../core/tensors/tensor-types.ts";
import { gradientDtype, type GradientDtype } from "../gradients/gradient-wire.ts";

interface Accumulator {
  /** The dtype name as the step's first contribution gave it (the mean is written with it). */
  readonly dtype: string;
  readonly canonical: GradientDtype;
  readonly shape: readonly number[];
  readonly sum: Float32Array;
}

function canonicalOf(tensor: Tensor, name: string): GradientDtype {
  const dtype = gradientDtype(tensor.dtype);
  if (dtype === undefined) throw new StrataError("TENSOR_MISMATCH", `tensor ${JSON.stringify(name)} has dtype ${tensor.dtype}, not F32, F16 or BF16`);
  return dtype;
}

/** A tensor's elements as f32 (a fresh array for F16 and BF16, a view or an aligned copy for F32). */
function widen(tensor: Tensor, dtype: GradientDtype): Float32Array {
  return typedView("F32", dtype === "F32" ? tensor.data : convertFloat(tensor.data, dtype, "F32"));
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export class TensorSums {
  private constructor(private readonly accumulators: ReadonlyMap<string, Accumulator>) {}

  /** Sums that start as `tensors` (the step's first contribution fixes names, dtypes and shapes). */
  static of(tensors: Readonly<Record<string, Tensor>>): TensorSums {
    const accumulators = new Map<string, Accumulator>();
    for (const [name, tensor] of Object.entries(tensors)) {
      const canonical = canonicalOf(tensor, name);
      accumulators.set(name, { dtype: tensor.dtype, canonical, shape: tensor.shape, sum: Float32Array.from(widen(tensor, canonical)) });
    }
    return new TensorSums(accumulators);
  }

  /** Why `tensors` cannot be added (another name set, dtype or shape), or null when they can. */
  mismatch(tensors: Readonly<Record<string, Tensor>>): string | null {
    const names = Object.keys(tensors);
    if (names.length !== this.accumulators.size) return `${names.length} tensors, the step has ${this.accumulators.size}`;
    for (const name of names) {
      const acc = this.accumulators.get(name);
      const tensor = tensors[name]!;
      if (acc === undefined) return `tensor ${JSON.stringify(name)} is not in the step`;
      if (gradientDtype(tensor.dtype) !== acc.canonical) return `tensor ${JSON.stringify(name)} has dtype ${tensor.dtype}, the step's is ${acc.dtype}`;
      if (!sameShape(tensor.shape, acc.shape)) return `tensor ${JSON.stringify(name)} has shape [${tensor.shape.join(", ")}], the step's is [${acc.shape.join(", ")}]`;
    }
    return null;
  }

  /** Adds `tensors` element-wise in f32; the caller has checked mismatch() first. */
  add(tensors: Readonly<Record<string, Tensor>>): void {
    for (const [name, acc] of this.accumulators) {
      const values = widen(tensors[name]!, acc.canonical);
      const sum = acc.sum;
      for (let i = 0; i < sum.length; i++) sum[i]! += values[i]!;
    }
  }

  /** Adds another step's sums (a carried late contribution) in f32; answers why not (and adds nothing) when they differ in names, dtypes or shapes. */
  addSums(other: TensorSums): string | null {
    if (other.accumulators.size !== this.accumulators.size) return `${other.accumulators.size} tensors, the step has ${this.accumulators.size}`;
    for (const [name, theirs] of other.accumulators) {
      const ours = this.accumulators.get(name);
      if (ours === undefined) return `tensor ${JSON.stringify(name)} is not in the step`;
      if (ours.canonical !== theirs.canonical || !sameShape(ours.shape, theirs.shape)) return `tensor ${JSON.stringify(name)} differs in dtype or shape`;
    }
    for (const [name, theirs] of other.accumulators) {
      const sum = this.accumulators.get(name)!.sum;
      for (let i = 0; i < sum.length; i++) sum[i]! += theirs.sum[i]!;
    }
    return null;
  }

  /** The mean over `count` contributions, each tensor in the dtype the step's first contribution used. */
  mean(count: number): Record<string, Tensor> {
    invariant(Number.isSafeInteger(count) && count >= 1, `a mean over ${count} contributions`);
    const out: [string, Tensor][] = [];
    for (const [name, acc] of this.accumulators) {
      const values = new Float32Array(acc.sum.length);
      for (let i = 0; i < values.length; i++) values[i] = acc.sum[i]! / count;
      const bytes = new Uint8Array(values.buffer);
      out.push([name, makeTensor(acc.dtype, acc.shape, acc.canonical === "F32" ? bytes : convertFloat(bytes, "F32", acc.canonical))]);
    }
    // Entries, not assignments: a tensor named "__proto__" stays a tensor of that name.
    return Object.fromEntries(out);
  }
}
