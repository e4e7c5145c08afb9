/**
 * The terminal's manners, on fake streams: what reaches stderr and stdout, with and without a
 * TTY, NO_COLOR, --quiet, and a reader that goes away.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { safeMessage, safeText } from '../../src/cli/safe-text.js';
import { cutToWidth, visibleWidth } from '../../src/cli/text-width.js';
import { PLAIN_PROGRESS_INTERVAL_MS, terminal, type Streams } from '../../src/cli/terminal.js';

class FakeStream extends EventEmitter {
  written = '';
  constructor(public isTTY = false, public columns = 80) { super(); }
  write(chunk: string): boolean { this.written += chunk; return true; }
}

function streams(options: { tty?: boolean; columns?: number; env?: NodeJS.ProcessEnv } = {}): { s: Streams; stdout: FakeStream; stderr: FakeStream } {
  const stdout = new FakeStream();
  const stderr = new FakeStream(options.tty ?? false, options.columns ?? 80);
  return { s: { stdout: stdout as unknown as Streams['stdout'], stderr: stderr as unknown as Streams['stderr'], env: options.env ?? {} }, stdout, stderr };
}

describe('safeText: strings from outside cannot drive the terminal', () => {
  it('escapes escape sequences, newlines, bidi overrides and zero-width characters, visibly', () => {
    expect(safeText('\x1b[31mRED\nX')).toBe('\\u001b[31mRED\\u000aX');
    expect(safeText('movie\u202egpj.exe')).toBe('movie\\u202egpj.exe');
    expect(safeText('a\u200bb\u2066c\ufeffd\u0085e')).toBe('a\\u200bb\\u2066c\\ufeffd\\u0085e');
    expect(safeText('ubuntu-24.04 Ü 日本 \u{1F600}')).toBe('ubuntu-24.04 Ü 日本 \u{1F600}');
  });

  it('escapes lone surrogates and tag characters but keeps pairs', () => {
    expect(safeText('a\ud800b')).toBe('a\\ud800b');
    expect(safeText('\u{E0041}')).toBe('\\udb40\\udc41');
  });

  it('a JSON line passed through it is the same JSON', () => {
    const value = { name: 'movie\u202egpj.exe\x1b[2J\u0085' };
    const line = safeText(JSON.stringify(value));
    expect(line).not.toMatch(/[\u202e\x1b\u0085]/);
    expect(JSON.parse(line)).toEqual(value);
  });

  it('safeMessage keeps our newlines and colours, and escapes everything else', () => {
    expect(safeMessage('\x1b[1mbold\x1b[22m\nnext\r\x1b]0;title\x07')).toBe('\x1b[1mbold\x1b[22m\nnext\\u000d\\u001b]0;title\\u0007');
  });
});

describe('visible width', () => {
  it('counts columns, not code units: escapes none, wide characters two, combining marks none', () => {
    expect(visibleWidth('\x1b[32mabc\x1b[39m')).toBe(3);
    expect(visibleWidth('日本')).toBe(4);
    expect(visibleWidth('e\u0301')).toBe(1);
  });

  it('cuts by visible width, and a cut inside an attribute ends with a reset', () => {
    const line = `\x1b[2mcrawl\x1b[22m 3s  \x1b[32m1,234 info_hashes\x1b[39m  99/min`;
    const cut = cutToWidth(line, 14);
    expect(visibleWidth(cut)).toBe(14);
    expect(cut.endsWith('\x1b[0m')).toBe(true);
    expect(cutToWidth(line, 200)).toBe(line);
    expect(cutToWidth('日本語', 5)).toBe('日本');
  });
});

describe('terminal()', () => {
  const painted = (t: ReturnType<typeof terminal>): string => t.paint('green', 'ok');

  it('NO_COLOR removes colour but keeps the live progress line', () => {
    const { s, stderr } = streams({ tty: true, env: { NO_COLOR: '1' } });
    const t = terminal(s);
    expect(painted(t)).toBe('ok');
    t.status(`progress ${painted(t)}`);
    expect(stderr.written).toBe('\r\x1b[Kprogress ok');
  });

  it('an empty NO_COLOR does not count as set (no-color.org)', () => {
    const { s } = streams({ tty: true, env: { NO_COLOR: '' } });
    expect(painted(terminal(s))).toBe('\x1b[32mok\x1b[39m');
  });

  it('cuts the live line to the terminal width without leaving a colour open', () => {
    const { s, stderr } = streams({ tty: true, columns: 30 });
    const t = terminal(s);
    t.status(`${t.paint('dim', 'crawl')} 12s  ${t.paint('green', '12,345 info_hashes')}  1,000/min`);
    const drawn = stderr.written.slice('\r\x1b[K'.length);
    expect(visibleWidth(drawn)).toBe(29);
    expect(drawn.endsWith('\x1b[0m')).toBe(true);
  });

  it('without a terminal, prints a plain progress line every 10 s and nothing in between', () => {
    let now = 0;
    const { s, stderr } = streams({ tty: false });
    const t = terminal(s, { now: () => now });
    t.status('p0');
    now = PLAIN_PROGRESS_INTERVAL_MS - 1;
    t.status('p1');
    expect(stderr.written).toBe('');
    now = PLAIN_PROGRESS_INTERVAL_MS;
    t.status('p2');
    now += 5_000;
    t.status('p3');
    now += 5_000;
    t.status('p4');
    expect(stderr.written).toBe('p2\np4\n');
  });

  it('--quiet keeps data and errors only', () => {
    let now = 0;
    const { s, stdout, stderr } = streams({ tty: true });
    const t = terminal(s, { quiet: true, now: () => now });
    t.err('Looking up ...');
    now = 60_000;
    t.status('progress');
    t.out('127.0.0.1:6881');
    t.err('dht-scrape: network error');
    expect(stdout.written).toBe('127.0.0.1:6881\n');
    expect(stderr.written).toBe('dht-scrape: network error\n');
  });

  it('a reader that goes away (EPIPE) is reported once, and stdout is not written again', () => {
    const { s, stdout } = streams();
    const gone: string[] = [];
    const t = terminal(s, { onReaderGone: (e) => gone.push((e as NodeJS.ErrnoException).code ?? '') });
    t.out('first');
    stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    t.out('second');
    expect(gone).toEqual(['EPIPE']);
    expect(t.readerGone).toBe(true);
    expect(stdout.written).toBe('first\n');
  });
});
