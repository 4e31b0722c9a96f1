// Metadata tables of the groups subsystem (re-exported by schema.ts; migration 0003_groups.sql).
export {};
