// The example page's script: wires the form to @strata-gw/strata/edge/browser. Query parameters
// (?gateway=URL&stream=S&source=S&message=M) prefill the form; window.strataExample holds the
// last results for scripts driving the page.
import { blake3Hex, publish, pullArtefact } from "../../dist/browser/strata-edge.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
for (const [param, id] of [["gateway", "gateway"], ["stream", "publish-stream"], ["source", "pull-source"], ["message", "message"]]) {
  if (params.has(param)) $(id).value = params.get(param);
}

const state = { published: null, pulled: null, error: null };
window.strataExample = state;

function show(id, stateName, text) {
  const out = $(id);
  out.dataset.state = stateName;
  out.textContent = text;
}

function describe(error) {
  return error && error.code ? `${error.code}: ${error.message}` : String(error && error.message ? error.message : error);
}

$("publish").addEventListener("click", async () => {
  const gateway = $("gateway").value;
  const stream = $("publish-stream").value;
  const message = $("message").value;
  show("publish-status", "busy", "publishing…");
  try {
    const positions = await publish(gateway, stream, [
      { key: "browser", fields: { message, bytes: new TextEncoder().encode(message), sent_at: Date.now() } },
    ]);
    state.published = { stream, message, positions };
    show("publish-status", "done", `published to ${stream}: partition ${positions[0].partition}, offset ${positions[0].offset}`);
  } catch (error) {
    state.error = describe(error);
    show("publish-status", "error", `publish failed: ${describe(error)}`);
  }
});

$("pull").addEventListener("click", async () => {
  const gateway = $("gateway").value;
  const source = $("pull-source").value;
  const bar = $("pull-progress");
  bar.value = 0;
  state.pulled = null;
  show("pull-status", "busy", "resolving…");
  try {
    const started = performance.now();
    const result = await pullArtefact(gateway, source, {
      onProgress(p) {
        bar.max = Math.max(p.bytesTotal, 1);
        bar.value = p.bytesDone;
        show("pull-status", "busy", `${p.phase}: ${p.chunksVerified}/${p.chunksTotal} chunks verified, ${p.bytesDone}/${p.bytesTotal} bytes`);
      },
    });
    const hash = blake3Hex(result.bytes);
    const ms = Math.round(performance.now() - started);
    state.pulled = { artefact: result.artefact.manifest, size: result.bytes.length, mediaType: result.artefact.mediaType, chunks: result.chunks, blake3: hash };
    bar.max = Math.max(result.bytes.length, 1);
    bar.value = result.bytes.length;
    show(
      "pull-status",
      "done",
      `pulled artefact ${result.artefact.manifest}\n${result.bytes.length} bytes of ${result.artefact.mediaType}, ${result.chunks} chunks verified in ${ms} ms\nBLAKE3 ${hash}`,
    );
  } catch (error) {
    state.error = describe(error);
    show("pull-status", "error", `pull failed: ${describe(error)}`);
  }
});
