/**
 * Bencoded bytes shown the way a learner reads them: a hex dump, then each token with its offset,
 * its raw text and what it means. The extent of every value comes from the library's own decoder
 * (`decodePrefix`), so this file only decides how to print, never how to parse.
 */
import { decodePrefix } from '../../src/index.js';

/** One token of the dump: where it starts, its bytes as printed, how deep it sits, what it is. */
export interface BencodeToken {
  offset: number;
  text: string;
  depth: number;
  meaning: string;
}

const D = 0x64;
const L = 0x6c;
const I = 0x69;
const E = 0x65;
const COLON = 0x3a;

/** Every token of one bencoded value, in wire order. Throws BencodeError on invalid input. */
export function bencodeTokens(bytes: Uint8Array): BencodeToken[] {
  const tokens: BencodeToken[] = [];
  const end = walk(bytes, 0, 0, tokens, undefined);
  if (end !== bytes.length) throw new RangeError(`${bytes.length - end} bytes after the value`);
  return tokens;
}

/** Walk the value at `pos`; `role` says whether a dictionary holds it as a key or a value. Returns its end. */
function walk(bytes: Uint8Array, pos: number, depth: number, out: BencodeToken[], role: 'key' | undefined): number {
  const first = bytes[pos];
  if (first === D || first === L) {
    out.push({ offset: pos, text: String.fromCharCode(first), depth, meaning: first === D ? 'dictionary {' : 'list [' });
    let at = pos + 1;
    let isKey = first === D;
    while (bytes[at] !== E) {
      at = walk(bytes, at, depth + 1, out, isKey ? 'key' : undefined);
      if (first === D) isKey = !isKey;
    }
    out.push({ offset: at, text: 'e', depth, meaning: first === D ? '}' : ']' });
    return at + 1;
  }
  const { value, end } = decodePrefix(bytes.subarray(pos));
  if (first === I) {
    out.push({ offset: pos, text: ascii(bytes, pos, pos + end), depth, meaning: `integer ${String(value)}` });
    return pos + end;
  }
  const colon = bytes.indexOf(COLON, pos);
  const content = bytes.subarray(colon + 1, pos + end);
  const header = ascii(bytes, pos, colon + 1);
  if (role === 'key') {
    out.push({ offset: pos, text: header + ascii(bytes, colon + 1, pos + end), depth, meaning: `key "${ascii(content, 0, content.length)}"` });
  } else if (isPrintable(content)) {
    out.push({ offset: pos, text: header + ascii(content, 0, content.length), depth, meaning: `string "${ascii(content, 0, content.length)}"` });
  } else {
    out.push({ offset: pos, text: `${header}<${content.length} bytes>`, depth, meaning: `bytes ${shortHex(content)}` });
  }
  return pos + end;
}

/** The tokens as aligned text: offset, raw token (indented by depth), meaning. */
export function formatTokens(tokens: readonly BencodeToken[]): string[] {
  const width = Math.max(...tokens.map((t) => t.text.length + 2 * t.depth));
  return tokens.map((t) => {
    const raw = `${'  '.repeat(t.depth)}${t.text}`;
    return `${String(t.offset).padStart(5)}  ${raw.padEnd(width)}  ${t.meaning}`;
  });
}

/** The classic 16-bytes-a-row dump: offset, hex, and the printable characters. */
export function hexDump(bytes: Uint8Array): string[] {
  const lines: string[] = [];
  for (let row = 0; row < bytes.length; row += 16) {
    const chunk = bytes.subarray(row, row + 16);
    const hex = Array.from(chunk, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = Array.from(chunk, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${row.toString(16).padStart(4, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  return lines;
}

/** Hex, cut in the middle past 20 bytes so a long `nodes` string stays one readable line. */
export function shortHex(bytes: Uint8Array, max = 20): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return bytes.length <= max ? hex : `${hex.slice(0, 16)}…${hex.slice(-8)} (${bytes.length} bytes)`;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

function isPrintable(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes.every((b) => b >= 0x20 && b < 0x7f);
}
