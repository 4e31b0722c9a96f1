// GET /v1/streams/{name}/versions and .../versions/{ref} against a real gateway on a real socket:
// the index is fed at append by every record whose `artefact` field is an ArtefactRef.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { getJson, liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";

let live: LiveGateway;
let v1: string;

const id = (lead: string) => lead.padEnd(64, "0");
const artefactRecord = (manifest: string, size: number, extra: Record<string, unknown> = {}) => ({
  fields: { artefact: { $artefact: { manifest, size, mediaType: "application/octet-stream" } }, file_name: `m-${size}.bin`, ...extra },
});

beforeAll(async () => {
  live = await liveGateway({ versions: { defaultPageVersions: 2, maxPageVersions: 3, maxFieldsJsonBytes: 64, maxPrefixCandidates: 2 } });
  v1 = `${live.url}/v1`;
  await postJson(`${v1}/streams`, { name: "models/one", partitions: 1 });
  await postJson(`${v1}/streams`, { name: "models/two", partitions: 2 });
});
afterAll(() => live.close());

describe("versions listing", () => {
  test("newest first with file name, fields and a cursor; records without an artefact are not versions", async () => {
    const published = await postJson(`${v1}/streams/models%2Fone/records`, {
      records: [artefactRecord(id("aaaa1111"), 10, { step: 1 }), { fields: { note: "not a version" } }, artefactRecord(id("aaaa2222"), 20, { big: "x".repeat(100) }), artefactRecord(id("bbbb3333"), 30)],
    });
    expect(published.status).toBe(200);
    const page = await getJson(`${v1}/streams/models%2Fone/versions`);
    expect(page.status).toBe(200);
    expect(page.body.versions.map((v: { offset: number }) => v.offset)).toEqual([3, 2]);
    expect(page.body.versions[0]).toMatchObject({ partition: 0, offset: 3, artefact: id("bbbb3333"), size: 30, media_type: "application/octet-stream", file_name: "m-30.bin", fields: {} });
    expect(page.body.versions[1].fields).toBeNull(); // over maxFieldsJsonBytes
    expect(typeof page.body.next_before).toBe("number");
    const next = await getJson(`${v1}/streams/models%2Fone/versions?before=${page.body.next_before}&limit=3`);
    expect(next.body.versions.map((v: { offset: number }) => v.offset)).toEqual([0]);
    expect(next.body.versions[0].fields).toEqual({ step: 1 });
    expect(next.body.next_before).toBeNull();
  });

  test("a limit past the family's maximum is BAD_REQUEST; a missing stream is STREAM_NOT_FOUND", async () => {
    const tooMany = await getJson(`${v1}/streams/models%2Fone/versions?limit=4`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.code).toBe("BAD_REQUEST");
    const bad = await getJson(`${v1}/streams/models%2Fone/versions?limit=-1`);
    expect(bad.status).toBe(400);
    const missing = await getJson(`${v1}/streams/nope/versions`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("STREAM_NOT_FOUND");
  });
});

describe("picking a version", () => {
  test("latest, an offset, an id prefix; an ambiguous prefix is AMBIGUOUS_ID naming the candidates", async () => {
    expect((await getJson(`${v1}/streams/models%2Fone/versions/latest`)).body.offset).toBe(3);
    expect((await getJson(`${v1}/streams/models%2Fone/versions/2`)).body.artefact).toBe(id("aaaa2222"));
    expect((await getJson(`${v1}/streams/models%2Fone/versions/0:0`)).body.artefact).toBe(id("aaaa1111"));
    expect((await getJson(`${v1}/streams/models%2Fone/versions/aaaa2222`)).body.offset).toBe(2);
    expect((await getJson(`${v1}/streams/models%2Fone/versions/BBBB3333`)).body.offset).toBe(3);
    const ambiguous = await getJson(`${v1}/streams/models%2Fone/versions/aaaa0000`);
    expect(ambiguous.status).toBe(404);
    const twoIds = await getJson(`${v1}/streams/models%2Fone/versions/${"a".repeat(4)}`);
    expect(twoIds.status).toBe(400); // fewer than 8 hex digits
    await postJson(`${v1}/streams/models%2Fone/records`, { records: [artefactRecord("aaaa1111" + "f".repeat(56), 40)] });
    const both = await getJson(`${v1}/streams/models%2Fone/versions/aaaa1111`);
    expect(both.status).toBe(409);
    expect(both.body.error.code).toBe("AMBIGUOUS_ID");
    expect(both.body.error.message).toContain(id("aaaa1111"));
    expect(both.body.error.message).toContain("aaaa1111" + "f".repeat(56));
    expect((await getJson(`${v1}/streams/models%2Fone/versions/aaaa1111f`)).body.offset).toBe(4);
    expect((await getJson(`${v1}/streams/models%2Fone/versions/1`)).status).toBe(404); // not a version
  });

  test("the same artefact published twice is one id (its newest version), not ambiguous", async () => {
    await postJson(`${v1}/streams/models%2Ftwo/records`, { records: [{ partition: 0, ...artefactRecord(id("cccc4444"), 1) }] });
    await postJson(`${v1}/streams/models%2Ftwo/records`, { records: [{ partition: 1, ...artefactRecord(id("cccc4444"), 1) }] });
    const found = await getJson(`${v1}/streams/models%2Ftwo/versions/cccc4444`);
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ partition: 1, offset: 0 });
    const bare = await getJson(`${v1}/streams/models%2Ftwo/versions/0`);
    expect(bare.status).toBe(400); // a bare offset on a two-partition stream
    expect((await getJson(`${v1}/streams/models%2Ftwo/versions/1:0`)).body.partition).toBe(1);
  });
});
