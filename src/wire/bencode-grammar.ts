/**
 * The bytes bencoding (BEP 3) is made of, and the lengths it counts: shared by the decoder
 * (bencode.ts), the writer (bencode-writer.ts) and the scanner (bencode-scanner.ts), so that the
 * three agree on every byte.
 */

// The ASCII bytes the grammar is made of.
export const CHAR_0 = 0x30;
export const CHAR_9 = 0x39;
export const COLON = 0x3a;
export const MINUS = 0x2d;
export const CHAR_D = 0x64;
export const CHAR_E = 0x65;
export const CHAR_I = 0x69;
export const CHAR_L = 0x6c;

/** Up to 15 decimal digits always fit a double exactly (10^15 < 2^53), so shorter integers need no BigInt. */
export const MAX_EXACT_DIGITS = 15;
/** Keys up to this long are built char by char; longer ones go through Buffer, which wins past ~this size. */
export const SHORT_STRING = 32;

/** Bytes [start, end) as a string with one char per byte (latin1). This is how dict keys are carried. */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= SHORT_STRING) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** Whether every char of `s` is one byte in latin1 (a dictionary key must be). */
export function isLatin1(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

/** Number of base-ten digits of a non-negative safe integer. */
export function decimalLength(n: number): number {
  // Compare with exact powers of ten rather than dividing, which would accumulate rounding.
  let digits = 1;
  for (let power = 10; n >= power; power *= 10) digits++;
  return digits;
}

/**
 * UTF-8 byte length of a JS string, as `Buffer.byteLength` and `TextEncoder` count it: a lone
 * surrogate becomes U+FFFD (3 bytes). Short strings are counted inline: cheaper than a native call.
 */
export function utf8Length(s: string): number {
  if (s.length > SHORT_STRING) return Buffer.byteLength(s, 'utf8');
  let length = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(s.charCodeAt(i + 1))) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
