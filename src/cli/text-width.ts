/**
 * How wide a line looks on a terminal, and how to cut it to fit. Escape sequences take no columns,
 * combining marks none, East Asian wide characters two: counting string length instead cuts a
 * coloured line early, or in the middle of an escape code, whose colour then bleeds into whatever
 * is printed next.
 */

/** A CSI sequence (ECMA-48 5.4): ESC [ parameters, intermediates, one final byte. SGR colours are these. */
// eslint-disable-next-line no-control-regex
const CSI = /^\x1b\[[0-?]*[ -/]*[@-~]/;
/** Characters that take no column: combining marks, zero-width formatting characters. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060-\u2064\ufeff]$/u;
/** Select Graphic Rendition 0: every attribute off. */
export const RESET = '\x1b[0m';

/** Columns `line` takes on a terminal (escape sequences excluded). */
export function visibleWidth(line: string): number {
  let width = 0;
  for (const piece of pieces(line)) width += piece.width;
  return width;
}

/**
 * `line` cut to at most `columns` visible columns. When something is cut from a line that carried
 * escape sequences, a reset ends it, so no attribute stays open after it.
 */
export function cutToWidth(line: string, columns: number): string {
  let width = 0;
  let out = '';
  let styled = false;
  for (const piece of pieces(line)) {
    if (piece.width === 0 && piece.text.startsWith('\x1b')) { styled = true; out += piece.text; continue; }
    if (width + piece.width > columns) return styled ? out + RESET : out;
    width += piece.width;
    out += piece.text;
  }
  return line;
}

interface Piece { text: string; width: number }

/** The line as escape sequences and characters (code points), each with its width. */
function* pieces(line: string): Generator<Piece> {
  let i = 0;
  while (i < line.length) {
    if (line.charCodeAt(i) === 0x1b) {
      const escape = CSI.exec(line.slice(i, i + 64))?.[0] ?? '\x1b';
      yield { text: escape, width: 0 };
      i += escape.length;
      continue;
    }
    const code = line.codePointAt(i)!;
    const text = String.fromCodePoint(code);
    yield { text, width: characterWidth(code, text) };
    i += text.length;
  }
}

function characterWidth(code: number, text: string): number {
  if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return 0;
  if (ZERO_WIDTH.test(text)) return 0;
  return isWide(code) ? 2 : 1;
}

/** East Asian Wide and Fullwidth ranges (UAX #11), the blocks a name is likely to use, and emoji. */
function isWide(code: number): boolean {
  return (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1f64f) ||
    (code >= 0x1f900 && code <= 0x1f9ff) ||
    (code >= 0x20000 && code <= 0x3fffd);
}
