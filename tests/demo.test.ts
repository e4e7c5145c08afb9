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

/** The rows of a lookup's hop table: hop, queries, answers, best shared bits, nodes sharing more. */
function hops(text: string): { asked: number; answered: number; best: number; left: number }[] {
  const rows = [...text.matchAll(/^ {4} +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)(?: {2}← \d+ peers?)?$/gm)];
  rows.forEach((row, i) => expect(Number(row[1])).toBe(i));
  return rows.map((row) => ({ asked: Number(row[2]), answered: Number(row[3]), best: Number(row[4]), left: Number(row[5]) }));
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

  it('fits a terminal: at most 200 lines, 40 per step, 80 columns', () => {
    const lines = run.out.replace(/\n$/, '').split('\n');
    expect(lines.length).toBeLessThanOrEqual(200);
    for (let n = 1; n <= 6; n++) expect(step(run.out, n).replace(/\n$/, '').split('\n').length, `step ${n}`).toBeLessThanOrEqual(40);
    const wide = lines.filter((line) => [...line].length > 80);
    expect(wide, 'lines wider than 80 columns').toEqual([]);
  });

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
    expect(Number(match(text, /give\s+the\s+(\d+)\s+bytes/)[1])).toBe(bytes.length);
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
    const result = match(text, /✔ table: (\d+) nodes in (\d+) buckets \((\d+) good\); replay: (\d+) splits, identical/);
    expect(Number(result[2])).toBeGreaterThan(1);
    expect(Number(result[4])).toBe(Number(result[2]) - 1);
    // The tree: one line per bucket, each prefix one bit longer, the fills adding up to the table.
    const rows = [...text.matchAll(/^ {4}( *)[├└]─ ([01]*)\* +(\d+)\/(\d+) {2}((?:[●○×·]\d+ ?)+)(.*)$/gm)];
    expect(rows.length).toBe(Number(result[2]));
    rows.forEach((row, i) => {
      expect(row[1]!.length).toBe(i);
      expect(row[2]!.length).toBe(i === rows.length - 1 ? i : i + 1);
      const byState = [...row[5]!.matchAll(/[●○×·](\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
      expect(byState).toBe(Number(row[3]));
    });
    expect(rows.reduce((sum, row) => sum + Number(row[3]), 0)).toBe(Number(result[1]));
    const good = rows.reduce((sum, row) => sum + Number(/●(\d+)/.exec(row[5]!)?.[1] ?? 0), 0);
    expect(good).toBe(Number(result[3]));
    expect(rows.map((row) => row[6]!.includes('← our ID'))).toEqual(rows.map((_, i) => i === rows.length - 1));
    // The full dump only with --verbose.
    expect(text).not.toMatch(/^ {6}[●○×] [0-9a-f]{6}…[0-9a-f]{2} 127\./m);
  });

  it('step 4: ping, find_node and get_peers each got a real reply', () => {
    const text = step(run.out, 4);
    expect(text).toContain('(the ID it really has)');
    expect(text.match(/^ {4}← from +\d+ B {2}reply t=/gm)?.length).toBeGreaterThanOrEqual(3);
    expect(Number(match(text, /✔ find_node: (\d+) nodes/)[1])).toBeGreaterThan(0);
    const peers = match(text, /✔ get_peers: (\d+) peers \((\d+) of them announced/);
    expect(Number(peers[1])).toBeGreaterThan(0);
    expect(peers[2]).toBe(peers[1]);
  });

  it('step 5: a textbook lookup walks hop by hop, the production one needs fewer hops, both find alice', () => {
    const text = step(run.out, 5);
    const alice = match(text, /Alice\s+\((127\.\d+\.\d+\.\d+:\d+)\)\s+has\s+just\s+announced/)[1]!;
    const [bobText, carolText] = text.split(/Carol is a fresh node/);
    const bob = hops(bobText!);
    const carol = hops(carolText!);
    // At least three hops, the best shared bits rising at each until the closest is reached.
    expect(bob.length).toBeGreaterThanOrEqual(3);
    const peak = bob.findIndex((h) => h.best === Math.max(...bob.map((b) => b.best)));
    expect(peak).toBeGreaterThanOrEqual(2);
    for (let i = 1; i <= peak; i++) expect(bob[i]!.best).toBeGreaterThan(bob[i - 1]!.best);
    // The candidates left (nodes sharing more bits than the best so far) shrink to none.
    for (const walk of [bob, carol]) {
      for (let i = 1; i < walk.length; i++) expect(walk[i]!.left).toBeLessThanOrEqual(walk[i - 1]!.left);
      expect(walk.at(-1)!.left).toBe(0);
    }
    // The chart draws Bob's hops.
    const chart = [...bobText!.matchAll(/^ {4}hop (\d+) │[█ ]+│ (\d+) bits$/gm)].map((m) => Number(m[2]));
    expect(chart).toEqual(bob.map((h) => h.best));
    // Its numbers are bits, said so; nothing in the chart calls them peers (issue 13, item 15).
    expect(bobText!.match(/^ {4}hop \d+ │.*$/gm)).toHaveLength(bob.length);
    expect(bobText!).not.toMatch(/│.*peers? found/);
    // The comparison says what the numbers say.
    const bobJoin = match(bobText!, /\((\d+)\s+packets\s+sent,\s+(\d+)\s+contacts;\s+the\s+best\s+shares\s+(\d+)\s+bits?\b/);
    const carolJoin = match(carolText!, /(\d+)\s+packets\s+sent\s+to\s+join,\s+(\d+)\s+contacts,\s+the\s+best\s+sharing\s+(\d+)\s+bits?\b/);
    const verdict = match(carolText!, /She\s+needs\s+(\d+)\s+hops\s+(instead\s+of|and\s+Bob)\s+(\d+):.*?starts\s+the\s+walk\s+(-?\d+)\s+bits\s+closer\.\s+The\s+cost:\s+(\d+)\s+packets\s+to\s+join\s+instead\s+of\s+(\d+)/s);
    expect(Number(verdict[1])).toBe(carol.length);
    expect(Number(verdict[3])).toBe(bob.length);
    expect(verdict[2]!.startsWith('instead')).toBe(carol.length < bob.length);
    expect(Number(verdict[4])).toBe(Number(carolJoin[3]) - Number(bobJoin[3]));
    expect(verdict[5]).toBe(carolJoin[1]);
    expect(verdict[6]).toBe(bobJoin[1]);
    // Joining with the production settings costs more packets and starts closer.
    expect(Number(carolJoin[1])).toBeGreaterThan(Number(bobJoin[1]));
    expect(Number(carolJoin[2])).toBeGreaterThan(Number(bobJoin[2]));
    expect(match(text, /✔ Bob: (\d+) hops, \d+ queries, found alice (\S+)/).slice(1)).toEqual([String(bob.length), alice]);
    expect(match(text, /✔ Carol: (\d+) hops, \d+ queries, found alice (\S+)/).slice(1)).toEqual([String(carol.length), alice]);
  });

  it('step 6: info-hashes arrived both from sample_infohashes and from passive capture', () => {
    const text = step(run.out, 6);
    const result = match(text, /✔ crawl: (\d+) info_hashes, (\d+) sampled, (\d+) by passive capture/);
    const sampled = match(text, /sampled: (\d+) of the (\d+) torrents stored on the network/);
    const passiveBy = match(text, /passive: (\d+) first seen in get_peers, (\d+) in announce_peer/);
    expect(Number(result[1])).toBe(Number(result[2]) + Number(result[3]));
    expect(Number(result[2])).toBeGreaterThan(0);
    expect(Number(sampled[1])).toBeGreaterThan(0);
    expect(Number(result[3])).toBeGreaterThan(0);
    expect(Number(passiveBy[1]) + Number(passiveBy[2])).toBe(Number(result[3]));
    // Each info-hash printed as it arrived: every passive one, and the samples up to 6.
    const listed = [...text.matchAll(/^ {4} *\+\d+\.\d+ s {2}([0-9a-f]{16})… {2}(sample|get_peers|announce_peer) /gm)];
    const passive = listed.filter((m) => m[2] !== 'sample');
    expect(passive.length).toBe(Number(result[3]));
    expect(listed.length - passive.length).toBe(Math.min(Number(result[2]), 6));
    expect(new Set(listed.map((m) => m[1])).size).toBe(listed.length);
  });
});
