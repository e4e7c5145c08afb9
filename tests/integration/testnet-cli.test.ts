/**
 * The local network through the CLI: --conditions and --seed, and `dht-scrape testnet
 * --address-range` off loopback, inside a network namespace this test creates (unshare -rn: no
 * interface but its own lo, no route out, gone when it exits).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli } from '../helpers/cli.js';

const canUnshare = spawnSync('unshare', ['-rn', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' }).status === 0;
if (!canUnshare) console.warn('SKIPPED: testnet --address-range in a namespace needs `unshare -rn` and `ip` (user namespaces)');

describe('dht-scrape testnet --address-range', () => {
  it('refuses a malformed range with a usage error', async () => {
    const r = await runCli(['testnet', '--address-range', '10.77.0.0/40']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--address-range: the prefix length of "10\.77\.0\.0\/40" must be 0 to 32/);
  });

  it('says which range cannot be bound instead of starting on another', async () => {
    // 192.0.2.0/24 (TEST-NET-1, RFC 5737) is on no interface of a test machine.
    const r = await runCli(['testnet', '--nodes', '4', '--ttl', '1', '--address-range', '192.0.2.0/24']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no address of 192.0.2.0/24 can be bound here');
  });

  it.skipIf(!canUnshare)('runs on 10.77.0.0/16 in a namespace, prints the addresses, and a scrape there finds the peers', () => {
    const script = [
      'set -e',
      'ip link set lo up',
      'ip route add local 10.77.0.0/16 dev lo table local',
      `coproc NET { exec "${process.execPath}" "${BIN}" testnet --nodes 30 --torrents 1 --ttl 60 --address-range 10.77.0.0/16 --json; }`,
      'read -r ready <&"${NET[0]}"',
      'echo "$ready"',
      'set -- $(printf "%s" "$ready" | "' + process.execPath + '" -e \'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.torrents[0].infohash,j.bootstrap[0])})\')',
      `"${process.execPath}" "${BIN}" "$1" --bootstrap "$2" --bind 10.77.0.1 --no-state --timeout 10 || true`,
      'kill "$NET_PID"; wait "$NET_PID" || true',
    ].join('\n');
    const r = spawnSync('unshare', ['-rn', 'bash', '-c', script], { encoding: 'utf8', timeout: 60_000 });
    const [ready, ...peers] = r.stdout.trim().split('\n');
    const doc = JSON.parse(ready!) as { address_range: string; addresses: string; bootstrap: string[] };
    expect(doc.address_range).toBe('10.77.0.0/16');
    expect(doc.addresses).toBe('10.77.1.1 to 10.77.30.1');
    expect(doc.bootstrap[0]).toMatch(/^10\.77\.1\.1:\d+$/);
    expect(peers).toHaveLength(10);
    for (const p of peers) expect(p).toMatch(/^10\.77\.128\.\d+:\d+$/);
  });
});

describe('--conditions and --seed', () => {
  it('a scrape on the internet preset still finds every peer, and says which conditions it ran on', async () => {
    const r = await runCli(['--testnet', '150', '--conditions', 'internet', '--seed', '7', '--timeout', '30'], 60_000);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('(conditions internet)');
    expect(r.stdout.trim().split('\n')).toHaveLength(10);
  }, 70_000);

  it('the ready line names the conditions and the seed, and the same seed gives the same torrents', async () => {
    const run = async (): Promise<{ seed: number; conditions: string; torrents: { infohash: string }[] }> => {
      const r = await runCli(['testnet', '--nodes', '30', '--ttl', '1', '--json', '--conditions', 'hostile', '--seed', '42']);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as { seed: number; conditions: string; torrents: { infohash: string }[] };
    };
    const [a, b] = [await run(), await run()];
    expect(a.conditions).toBe('hostile');
    expect(a.seed).toBe(42);
    expect(b.torrents).toEqual(a.torrents);
  }, 30_000);

  it('says when its bootstrap addresses are routers (internet), and not when they are nodes (ideal)', async () => {
    const internet = await runCli(['testnet', '--nodes', '30', '--ttl', '1', '--conditions', 'internet', '--seed', '5']);
    expect(internet.code).toBe(0);
    expect(internet.stderr).toContain('bootstrap addresses are routers like router.bittorrent.com');
    const ideal = await runCli(['testnet', '--nodes', '30', '--ttl', '1']);
    expect(ideal.code).toBe(0);
    expect(ideal.stderr).not.toContain('routers');
  }, 30_000);

  it('reads a conditions file, and names the bad field of a broken one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dht-conditions-'));
    try {
      const good = join(dir, 'lossy.json');
      await writeFile(good, JSON.stringify({ extends: 'ideal', loss: 0.05 }));
      const ok = await runCli(['testnet', '--nodes', '20', '--ttl', '1', '--json', '--conditions', good]);
      expect(ok.code).toBe(0);
      expect((JSON.parse(ok.stdout) as { conditions: string }).conditions).toBe('lossy');
      const bad = join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify({ latency: { medianMs: 100, p95: 800 } }));
      const refused = await runCli(['testnet', '--nodes', '20', '--ttl', '1', '--conditions', bad]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('latency: unknown field "p95"');
      const missing = await runCli(['--testnet', '20', '--conditions', 'internets']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/neither a preset \(ideal, internet, hostile\) nor a readable file/);
      const alone = await runCli(['--conditions', 'internet', '--no-state']);
      expect(alone.code).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('a local network slowed on purpose', () => {
  it('one whose nodes answer 3-4 s late passes its own test lookup (its probe waits for the conditions\' p95)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dht-conditions-'));
    try {
      const slow = join(dir, 'slow.json');
      await writeFile(slow, JSON.stringify({ extends: 'ideal', latency: { medianMs: 3_000, p95Ms: 4_000 } }));
      const r = await runCli(['testnet', '--nodes', '20', '--torrents', '1', '--ttl', '1', '--json', '--conditions', slow], 90_000);
      expect(r.stderr).not.toContain('did not answer a test lookup');
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as { conditions: string }).conditions).toBe('slow');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 100_000);
});

describe('IPv6 local networks through the CLI', () => {
  it('--testnet 50 --bind ::1 runs an IPv6 network and finds its peers over IPv6 (18-byte values)', async () => {
    const r = await runCli(['--testnet', '50', '--bind', '::1', '--timeout', '20'], 40_000);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(10);
    for (const line of lines) expect(line).toMatch(/^\[::1\]:\d+$/);
  }, 45_000);

  it('--testnet 50 --dual-stack scrapes in both families at once: every IPv4 and every IPv6 peer, reported per family', async () => {
    const r = await runCli(['--testnet', '50', '--dual-stack', '--seed', '4', '--timeout', '20', '--json'], 40_000);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { peers: { address: string; port: number }[]; families: Record<string, { peers: number; bootstrap_answered: number }> };
    const keys = doc.peers.map((p) => `${p.address}:${p.port}`);
    // Each torrent of the network has 10 peers of each family, and only those are ever stored for it.
    expect(new Set(keys).size).toBe(20);
    expect(doc.peers.filter((p) => p.address.startsWith('127.'))).toHaveLength(10);
    expect(doc.peers.filter((p) => p.address === '::1')).toHaveLength(10);
    expect(doc.families.ipv4).toMatchObject({ peers: 10, bootstrap_answered: 1 });
    expect(doc.families.ipv6).toMatchObject({ peers: 10, bootstrap_answered: 1 });
    expect(r.stderr).toMatch(/IPv4: 10 peers, \d+ queries; IPv6: 10 peers, \d+ queries/);
  }, 45_000);

  it("'dht-scrape testnet --dual-stack' hands out IPv6 bootstrap nodes beside the IPv4 ones, and peers of both families", async () => {
    const r = await runCli(['testnet', '--dual-stack', '--nodes', '20', '--torrents', '1', '--peers', '3', '--ttl', '1', '--json'], 40_000);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout.trim().split('\n')[0]!) as { bootstrap: string[]; bootstrap6: string[]; address_range6: string; torrents: { peers: string[] }[] };
    expect(doc.address_range6).toBe('::1/128');
    expect(doc.bootstrap.every((b) => /^127\./.test(b))).toBe(true);
    expect(doc.bootstrap6.length).toBe(4);
    for (const b of doc.bootstrap6) expect(b).toMatch(/^\[::1\]:\d+$/);
    expect(doc.torrents[0]!.peers.filter((p) => p.startsWith('127.'))).toHaveLength(3);
    expect(doc.torrents[0]!.peers.filter((p) => p.startsWith('[::1]:'))).toHaveLength(3);
    const v6range = await runCli(['testnet', '--dual-stack', '--address-range', '::1/128'], 20_000);
    expect(v6range.code).toBe(2);
    expect(v6range.stderr).toMatch(/--address-range must be IPv4/);
  }, 45_000);

  it('-4 and -6 pick one family; --dual-stack with either is a usage error', async () => {
    const r4 = await runCli(['--testnet', '50', '--dual-stack', '-4', '--timeout', '20'], 40_000);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/--dual-stack runs both address families; it cannot be combined with -4/);
    const both = await runCli(['--testnet', '50', '-4', '-6'], 40_000);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/-4 and -6 each pick one address family/);
  }, 45_000);

});
