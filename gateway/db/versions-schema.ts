// Artefact versions of a stream (issue 17), indexed at append. Filled in by migration 0009.
export {};
