// The gateway's QUIC certificate: generated once into the data directory and reused, or taken
// from the files given; its fingerprint is the SHA-256 of the certificate.
import { createHash, X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, test } from "bun:test";
import { loadTlsIdentity } from "../../gateway/quic/tls.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

const dir = tempDir("strata-quic-tls-");
afterAll(() => removeDir(dir));

test("a certificate is generated once and reused on later starts", async () => {
  const first = await loadTlsIdentity({ dataDir: dir, names: ["10.1.2.3", "gw.example"] });
  expect(first.generated).toBe(true);
  const again = await loadTlsIdentity({ dataDir: dir });
  expect(again.generated).toBe(false);
  expect(again.fingerprint).toBe(first.fingerprint);
  const cert = new X509Certificate(first.certPem);
  expect(first.fingerprint).toBe(createHash("sha256").update(cert.raw).digest("hex"));
  expect(cert.subjectAltName).toContain("IP Address:10.1.2.3");
  expect(cert.subjectAltName).toContain("DNS:gw.example");
  expect(cert.subjectAltName).toContain("DNS:localhost");
});

test("given files are used as they are; one without the other is refused", async () => {
  const generated = await loadTlsIdentity({ dataDir: dir });
  const certFile = join(dir, "given-cert.pem");
  const keyFile = join(dir, "given-key.pem");
  writeFileSync(certFile, generated.certPem);
  writeFileSync(keyFile, generated.keyPem);
  const given = await loadTlsIdentity({ dataDir: join(dir, "other"), certFile, keyFile });
  expect(given).toMatchObject({ generated: false, certFile, fingerprint: generated.fingerprint });
  await expect(loadTlsIdentity({ dataDir: dir, certFile })).rejects.toThrow(/go together/);
  writeFileSync(join(dir, "bad.pem"), "not a certificate");
  await expect(loadTlsIdentity({ dataDir: dir, certFile: join(dir, "bad.pem"), keyFile })).rejects.toThrow(/not a PEM certificate/);
});
