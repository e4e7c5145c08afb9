/**
 * `npm run demo`, run unattended (stdin is not a terminal, so --step must not wait), checked
 * step by step: each step's result line must agree with facts printed elsewhere in the same run,
 * which only a real run on the local network could produce.
 */
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, idFromHex, sharedPrefixLength, xorDistance, idToHex } from '../src/index.js';
import { styleFor } from '../examples/lib/style.js';
import { ROOT } from './helpers/compile-examples.js';

interface Run { code: number | null; out: string; err: string }

function runDemo(): Promise<Run> {
  return new Promise((resolve, reject) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const child = spawn(npm, ['run', '--silent', 'demo', '--', '--step'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

/** The text of step n, from its heading to the next one. */
function step(out: string, n: number): string {
  const start = out.indexOf(`━━ Step ${n}/6`);
  const end = out.indexOf(`━━ Step ${n + 1}/6`);
  expect(start).toBeGreaterThanOrEqual(0);
  return out.slice(start, end === -1 ? undefined : end);
}

function match(text: string, pattern: RegExp): RegExpExecArray {
  const m = pattern.exec(text);
  expect(m, `expected ${pattern} in:\n${text.slice(0, 2_000)}`).not.toBeNull();
  return m!;
}

describe('the demo\'s colours', () => {
  it('paint on a terminal, and never when piped, with NO_COLOR, or on a dumb terminal', () => {
    expect(styleFor({ isTTY: true }, {}).paint('green', 'ok')).toBe('\x1b[32mok\x1b[39m');
    expect(styleFor({ isTTY: false }, {}).paint('green', 'ok')).toBe('ok');
    expect(styleFor({ isTTY: true }, { NO_COLOR: '' }).paint('green', 'ok')).toBe('ok');
    expect(styleFor({ isTTY: true }, { TERM: 'dumb' }).paint('green', 'ok')).toBe('ok');
  });
});

describe('npm run demo', () => {
  let run: Run;
  beforeAll(async () => { run = await runDemo(); }, 160_000);

  it('exits 0, without colour when piped, through six steps', () => {
    expect(run.err.replace(/^npm warn.*\n/gm, '')).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).not.toContain('\x1b[');
    for (let n = 1; n <= 6; n++) expect(run.out).toContain(`━━ Step ${n}/6`);
    expect(run.out.match(/^ {2}✔ /gm)?.length).toBeGreaterThanOrEqual(8);
  });

  it('step 1: the hex dump is the get_peers query it describes', () => {
    const text = step(run.out, 1);
    const hex = [...text.matchAll(/^ {4}[0-9a-f]{4} {2}((?:[0-9a-f]{2} )*[0-9a-f]{2})/gm)].map((m) => m[1]!.replace(/ /g, '')).join('');
    const bytes = Buffer.from(hex, 'hex');
    expect(Number(match(text, /encoded (\d+) bytes/)[1])).toBe(bytes.length);
    const parsed = decodeMessage(bytes);
    expect(parsed.ok && parsed.message.y === 'q' && parsed.message.q).toBe('get_peers');
    if (parsed.ok && parsed.message.y === 'q' && parsed.message.q === 'get_peers') {
      expect(text).toContain(`a.info_hash  0x${idToHex(parsed.message.a.info_hash)}`);
    }
  });

  it('step 2: the printed XOR distances and shared bits are right', () => {
    const text = step(run.out, 2);
    const t = idFromHex(match(text, /target {2}T = ([0-9a-f]{40})/)[1]!);
    const a = idFromHex(match(text, /node {4}A = ([0-9a-f]{40})/)[1]!);
    const b = idFromHex(match(text, /node {4}B = ([0-9a-f]{40})/)[1]!);
    expect(match(text, /distance\(T, A\) = ([0-9a-f]{40})/)[1]).toBe(idToHex(xorDistance(t, a)));
    expect(match(text, /distance\(T, B\) = ([0-9a-f]{40})/)[1]).toBe(idToHex(xorDistance(t, b)));
    const result = match(text, /✔ XOR: .* shares (\d+) bits with T; node B shares (\d+)/);
    expect(Number(result[1])).toBe(sharedPrefixLength(t, a));
    expect(Number(result[2])).toBe(sharedPrefixLength(t, b));
  });

  it('step 3: the table was filled from the network, split, and the replay matches it', () => {
    const text = step(run.out, 3);
    const dump = match(text, /(\d+) nodes in (\d+) buckets: /);
    const result = match(text, /✔ routing table: (\d+) nodes in (\d+) buckets .* the replay split (\d+) times and ends identical/);
    expect(result[1]).toBe(dump[1]);
    expect(result[2]).toBe(dump[2]);
    expect(Number(result[2])).toBeGreaterThan(1);
    expect(Number(result[3])).toBe(Number(result[2]) - 1);
    // One line per contact in the dump.
    expect(text.match(/^ {6}[●○×] [0-9a-f]{6}…[0-9a-f]{2} 127\./gm)?.length).toBe(Number(result[1]));
  });

  it('step 4: ping, find_node and get_peers each got a real reply', () => {
    const text = step(run.out, 4);
    expect(text).toContain('(the ID it really has)');
    expect(text.match(/← from 127\./g)?.length).toBeGreaterThanOrEqual(3);
    expect(Number(match(text, /✔ find_node: (\d+) nodes/)[1])).toBeGreaterThan(0);
    const peers = match(text, /✔ get_peers: (\d+) peers \((\d+) of them announced/);
    expect(Number(peers[1])).toBeGreaterThan(0);
    expect(peers[2]).toBe(peers[1]);
  });

  it('step 5: the lookup finds exactly the peer alice announced, and charts its hops', () => {
    const text = step(run.out, 5);
    const alice = match(text, /Alice\s+\((127\.\d+\.\d+\.\d+:\d+)\)\s+has\s+just\s+announced/)[1]!;
    const found = match(text, /✔ lookup: found peer (\S+) = alice (\S+), who announced it/);
    expect(found[1]).toBe(alice);
    expect(found[2]).toBe(alice);
    const bits = [...text.matchAll(/^ {4}hop \d+ │[█ ]+│ (\d+)/gm)].map((m) => Number(m[1]));
    expect(bits.length).toBeGreaterThanOrEqual(1);
    // The chart's best hop is the closest responder the lookup's own statistics report.
    const closest = Number(match(text, /the\s+closest\s+node\s+that\s+answered\s+shares\s+(\d+)\s+bits/)[1]);
    expect(Math.max(...bits)).toBe(closest);
    expect(closest).toBeGreaterThan(0);
  });

  it('step 6: info-hashes arrived both from sample_infohashes and from passive capture', () => {
    const text = step(run.out, 6);
    const result = match(text, /✔ crawl: (\d+) info_hashes: (\d+) from sample_infohashes \((\d+) of the (\d+) torrents .*\), (\d+) from passive capture/);
    expect(Number(result[2])).toBeGreaterThan(0);
    expect(Number(result[3])).toBeGreaterThan(0);
    expect(Number(result[5])).toBeGreaterThan(0);
    // Each info-hash printed as it arrived: every passive one, and the samples up to 24.
    const listed = [...text.matchAll(/^ {4} *\+\d+\.\d+ s {2}([0-9a-f]{40}) {2}(sample|get_peers|announce_peer) /gm)];
    const passive = listed.filter((m) => m[2] !== 'sample');
    expect(passive.length).toBe(Number(result[5]));
    expect(listed.length - passive.length).toBe(Math.min(Number(result[2]), 24));
    expect(new Set(listed.map((m) => m[1])).size).toBe(listed.length);
  });
});
