// Datasets' sample order and resume state: pure functions, shared by gateway, edge and tests.
export { fisherYates, generatorFor, generatorKey, mix64, PURPOSE, SplitMix64 } from "./splitmix64.ts";
export { orderVersionSchema, spansOf, type OrderVersion, type Spans } from "./order-version.ts";
export { BLOCK_SPANS, DatasetOrder, DEFAULT_CANONICAL_BUCKETS, EpochOrder, MAX_CANONICAL_BUCKETS, type OrderOptions } from "./epoch-order.ts";
export { positionsFor, rankPosition, rankSampleCount, workerRankIndexes, workerSampleCount, type ReaderPlace } from "./positions.ts";
export { parseResumeState, resumeStateSchema, type ResumeState } from "./resume-state.ts";
