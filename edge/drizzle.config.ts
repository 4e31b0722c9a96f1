// drizzle-kit configuration of the edge node's local database (separate from the gateway's):
// `npx drizzle-kit generate --config edge/drizzle.config.ts` writes edge/db/migrations.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./edge/db/schema.ts",
  out: "./edge/db/migrations",
});
