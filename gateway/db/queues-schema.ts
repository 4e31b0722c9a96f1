// Metadata tables of the queues subsystem (re-exported by schema.ts; migration 0004_queues.sql).
export {};
