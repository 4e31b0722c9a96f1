// Limits of the artefact versions listing (docs/versions.md): one declaration gives each its
// default, unit, range and meaning, like the service limits.
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const KiB = 1024;

export const VERSION_LIMITS = defineLimits("versions", {
  defaultPageVersions: { default: 100, unit: "count", min: 1, max: 100_000, doc: "Versions one listing answers when it does not say (`limit`)." },
  maxPageVersions: { default: 1_000, unit: "count", min: 1, max: 100_000, doc: "Most versions one listing answers; a larger `limit` is BAD_REQUEST (400)." },
  maxFieldsJsonBytes: { default: 16 * KiB, unit: "bytes", min: 0, max: 1024 * KiB, doc: "Most bytes of a version's other record fields (as JSON) the index keeps; larger ones are listed as null (read the record itself)." },
  maxPrefixCandidates: { default: 16, unit: "count", min: 2, max: 1_000, doc: "Most candidate ids an AMBIGUOUS_ID (409) answer names." },
});

export type VersionLimits = LimitValues<typeof VERSION_LIMITS.specs>;

export const DEFAULT_VERSION_LIMITS: VersionLimits = VERSION_LIMITS.defaults;
