// Stream-level idempotent-producer rules. A producer's request carries one (id, epoch, seq) and
// may span partitions; each partition keeps the last few batches per producer (the storage
// engine's producer state), and this class decides, per request, whether it is new, a retry,
// a gap or fenced. Requests of one producer are serialised so its sequence is checked in order.
import { StrataError } from "../../core/errors.ts";
import type { ProducerRef } from "../../core/log/record.ts";

export interface ProducerPosition {
  readonly epoch: number;
  readonly lastSeq: number;
}

export type SequenceVerdict = "new" | "retry";

/** Decides what a request with `producer` is, given the highest position seen in the stream. */
export function judgeSequence(producer: ProducerRef, known: ProducerPosition | undefined): SequenceVerdict {
  if (!known) return "new"; // unknown producer (or its state aged out with retention): accept where it starts
  if (producer.epoch < known.epoch) {
    throw new StrataError("PRODUCER_FENCED", `producer ${producer.id} epoch ${producer.epoch} is older than ${known.epoch}`);
  }
  if (producer.epoch > known.epoch) {
    if (producer.seq !== 0) throw new StrataError("SEQUENCE_GAP", `a new epoch of producer ${producer.id} must start at seq 0`);
    return "new";
  }
  if (producer.seq === known.lastSeq + 1) return "new";
  if (producer.seq <= known.lastSeq) return "retry";
  throw new StrataError("SEQUENCE_GAP", `producer ${producer.id} sent seq ${producer.seq} after ${known.lastSeq}`);
}

/**
 * Cluster mode (docs/cluster.md): a producer's request is split per partition and each part may
 * be judged by another gateway (the partition's leader), which knows only its own partition. So
 * the scope is the partition: a sequence past the partition's last one is new (a gap is not
 * detectable there: the producer's other sequences went to other partitions); one at or below it
 * is a retry (a duplicate answered with its original offsets when the partition still remembers
 * it, else SEQUENCE_GAP); an older epoch is fenced and a newer one starts afresh at any sequence.
 */
export function judgePartitionSequence(producer: ProducerRef, known: ProducerPosition | undefined): SequenceVerdict {
  if (!known) return "new";
  if (producer.epoch < known.epoch) {
    throw new StrataError("PRODUCER_FENCED", `producer ${producer.id} epoch ${producer.epoch} is older than ${known.epoch}`);
  }
  if (producer.epoch > known.epoch) return "new";
  return producer.seq > known.lastSeq ? "new" : "retry";
}

/**
 * Who may publish with a producer id: the first authenticated subject to publish with an id
 * owns it, on every stream, and a publish by any other subject with that id (any epoch, so it
 * can neither write as nor fence the owner) is FORBIDDEN. Checked under the producer's lock,
 * before its sequence is judged. Implemented over the metadata database by
 * gateway/auth/producer-owners.ts.
 */
export interface ProducerOwnership {
  /** Registers `producerId` to `subject` if no one owns it yet; FORBIDDEN if another subject does. */
  claim(producerId: number, subject: string): Promise<void>;
}
