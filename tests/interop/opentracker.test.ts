/**
 * Interop with a real tracker: Debian's opentracker on loopback, spoken to over UDP (BEP 15) and
 * HTTP (BEP 3, 23, 48) by our clients. Debian builds it with a whitelist, so the test writes one.
 *
 * Skipped loudly without the opentracker binary; with DHT_SCRAPE_REQUIRE_OPENTRACKER=1 (set by
 * .ci/run when the install succeeded) a missing binary is a failure instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idToHex } from '../../src/wire/id.js';
import { queryTrackers } from '../../src/tracker/tracker.js';

const binary = spawnSync('sh', ['-c', 'command -v opentracker'], { encoding: 'utf8' }).stdout.trim();
const required = process.env.DHT_SCRAPE_REQUIRE_OPENTRACKER === '1';

if (binary === '') {
  console.warn(`\n${'#'.repeat(78)}\n# SKIPPED: opentracker interop tests: no opentracker binary (Debian: apt-get install opentracker)\n${'#'.repeat(78)}\n`);
  describe('opentracker interop', () => {
    it.skipIf(!required)(`${required ? 'FAILED: DHT_SCRAPE_REQUIRE_OPENTRACKER=1 but' : 'SKIPPED:'} opentracker is not installed`, () => {
      throw new Error('DHT_SCRAPE_REQUIRE_OPENTRACKER=1 but opentracker is not installed');
    });
  });
}

describe.skipIf(binary === '')('opentracker interop', () => {
  const listed = new Uint8Array(20).map((_, i) => 0x40 + i);
  const unlisted = new Uint8Array(20).fill(0x99);
  let dir: string;
  let tracker: ChildProcess;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'opentracker-'));
    chmodSync(dir, 0o755); // it chroots there and drops to the user nobody, who must still read the whitelist
    writeFileSync(join(dir, 'whitelist'), `${idToHex(listed)}\n`, { mode: 0o644 });
    port = await freePort();
    tracker = spawn(binary, ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-w', '/whitelist', '-d', dir], { cwd: dir, stdio: 'ignore' });
    await listening(port);
  }, 20_000);

  afterAll(() => {
    tracker?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a peer announced over HTTP is handed out over UDP; the scrape counts it; stopped takes it out', async () => {
    const http = `http://127.0.0.1:${port}/announce`;
    const udp = `udp://127.0.0.1:${port}/announce`;
    const [stayed] = await queryTrackers([http], { infoHash: listed, port: 7001, stay: true });
    expect(stayed!.error).toBeUndefined();

    const [seen] = await queryTrackers([udp], { infoHash: listed, port: 7002, retryBaseMs: 1_000 });
    expect(seen!.error).toBeUndefined();
    expect(seen!.answer!.peers).toContainEqual({ address: '127.0.0.1', port: 7001 });
    expect(seen!.answer!.seeders).toBe(1); // scraped before our own announce: the one that stayed

    const [after] = await queryTrackers([http], { infoHash: listed, port: 7003 });
    expect(after!.answer!.seeders).toBe(1); // the UDP client's `stopped` took it out again
    expect(after!.answer!.completed).toBe(0);
  });

  it("a torrent off the tracker's list: its reason over HTTP, its empty reply over UDP, each said at once", async () => {
    const [http, udp] = await queryTrackers([`http://127.0.0.1:${port}/announce`, `udp://127.0.0.1:${port}`], { infoHash: unlisted, retryBaseMs: 5_000, maxRetries: 1 });
    expect(http!.error).toBe('the tracker refused: Requested download is not authorized for use with this tracker.');
    expect(udp!.error).toMatch(/^the tracker refused the announce: an empty announce reply \(opentracker sends one for a torrent it does not track\)/);
    expect(udp!.ms).toBeLessThan(5_000); // answered, not timed out
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Resolves once the tracker accepts TCP connections (it has no ready line to wait for); at most 10 s. */
async function listening(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); done(true); });
      socket.on('error', () => done(false));
    });
    if (ok) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`opentracker did not listen on ${port} within 10 s`);
}
