// Metadata tables of the jobs subsystem: training jobs and their all-or-none checkpoints
// (re-exported by schema.ts; migration 0006_jobs.sql).
export {};
