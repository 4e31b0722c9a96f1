// Metadata tables of the datasets subsystem (re-exported by schema.ts; migration 0005_datasets.sql).
export {};
