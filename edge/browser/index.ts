// `@strata-gw/strata/edge/browser`: the browser client. Publishes records and pulls artefacts over the
// gateway's HTTP API with fetch and Web Streams; BLAKE3 runs on the same WASM kernel as
// everywhere else. No node:* imports (bundled by `npm run build:browser`).
export { publish, type BrowserRecord, type PublishOptions, type PublishedPosition } from "./publish.ts";
export { pullArtefact, type BrowserPullOptions, type PulledArtefact, type PullProgress } from "./pull.ts";
export { blake3Hex } from "../../core/hashing/blake3.ts";
export { StrataError, type ErrorCode } from "../../core/errors.ts";
export { BROWSER_LIMITS } from "./limits.ts";
