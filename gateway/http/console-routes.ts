// The web console (docs/console.md) at /console/: the page, its script (with uPlot) and its
// stylesheet, built into gateway/console/assets.generated.ts by `npm run build:console` and
// served from memory with strong ETags and a Content-Security-Policy that lets the page load and
// talk to nothing but this gateway. Scope (docs/auth.md): none. The assets hold no data; every
// API call the page makes carries the tab's bearer token and is authorised by its own route.
import { Hono, type Context } from "hono";
import { consoleAssets } from "../console/assets.generated.ts";
import type { ConsoleAsset } from "../console/console-asset.ts";
import { errorResponse } from "./errors.ts";

/** Self only: scripts, styles, images and API calls from this origin; no frames, no plugins, no <base>. */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ASSET_NAME = /^[a-z][a-z0-9.-]{0,63}$/;

/** True when If-None-Match names the asset's ETag (or is `*`). */
function unchanged(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}

function serve(c: Context, asset: ConsoleAsset): Response {
  const headers = {
    etag: asset.etag,
    // Revalidated on every load (a new gateway build changes the ETag); never stale.
    "cache-control": "no-cache",
    "content-security-policy": CONSOLE_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };
  if (unchanged(c.req.header("if-none-match"), asset.etag)) return c.body(null, 304, headers);
  return c.body(asset.body, 200, { ...headers, "content-type": asset.contentType });
}

export function consoleRoutes() {
  const assets = new Map(consoleAssets.map((a) => [a.name, a]));
  const page = assets.get("");
  return (
    new Hono()
      // The page loads its files relative to /console/, so it also works behind a path prefix.
      .get("/", (c) => c.redirect("console/", 308))
      .get("/:name{.*}", (c) => {
        const name = c.req.param("name");
        const asset = name === "" ? page : ASSET_NAME.test(name) ? assets.get(name) : undefined;
        if (asset === undefined) return errorResponse(c, "NOT_FOUND", `no console file ${name}`, 404);
        return serve(c, asset);
      })
  );
}
