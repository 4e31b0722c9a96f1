// Segment tiers on the local-directory object store (the embedded default).
import { join } from "node:path";
import { LocalObjectStore } from "../../gateway/objects/local-object-store.ts";
import { segmentTierSuite } from "./segment-tiers.contract.ts";

segmentTierSuite("local store", (dir) => LocalObjectStore.open(join(dir, "objects")));
