// Metadata tables of the gradients subsystem (re-exported by schema.ts; migration 0007_gradients.sql).
export {};
