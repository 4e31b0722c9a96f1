// One file of the web console as the gateway serves it: built by build.ts into
// assets.generated.ts (HTML, the bundled script with uPlot, the stylesheet with uPlot's).

export interface ConsoleAsset {
  /** The file name under /console/ ("" is the page itself). */
  readonly name: string;
  readonly contentType: string;
  /** A strong ETag: the quoted SHA-256 prefix of the body. */
  readonly etag: string;
  readonly body: string;
}
