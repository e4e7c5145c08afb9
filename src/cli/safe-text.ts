/**
 * Text from outside (a magnet's dn, torrent names and paths, client strings, a node's error
 * message) must not drive the terminal it is printed on. Escape sequences repaint it, a newline
 * forges a line, and bidi or zero-width characters make a name read differently from what it is
 * (`movie\u202egpj.exe` shows as "movieexe.jpg"). Each such character is shown as a visible `\uXXXX`
 * escape instead: the reader sees that something was there, and what.
 *
 * The same escape is what JSON uses, so a JSON document passed through `safeText` is still the
 * same JSON (these characters can only occur inside its strings) and is also safe on a terminal.
 */

/**
 * The characters escaped: C0 controls and DEL, C1 controls, the soft hyphen, bidi marks, embeddings,
 * overrides and isolates (Unicode UAX #9), zero-width and invisible formatting characters (U+200B-D,
 * U+2060-4, the BOM), line and paragraph separators, interlinear annotation controls, and lone
 * surrogates (which have no character to show).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\udb40[\udc00-\udc7f]/g;

/** Select Graphic Rendition (ECMA-48 8.3.117): colours and bold, the only escapes our messages use. */
// eslint-disable-next-line no-control-regex
const SGR = /^\x1b\[[0-9;]*m/;

/** `text` with every unsafe character replaced by its `\uXXXX` escape (UTF-16 units, as JSON writes them). */
export function safeText(text: string): string {
  return text.replace(UNSAFE, escapeUnits);
}

/**
 * A message of our own, which may carry newlines and colours (SGR sequences, `ESC [ ... m`), made
 * safe as a whole: every other unsafe character is escaped. This is a net under `safeText`, not a
 * replacement: a string from outside must still be passed through `safeText` before it is put in
 * a message, as it could carry an SGR sequence itself.
 */
export function safeMessage(text: string): string {
  return text.replace(UNSAFE, (units, offset: number) => {
    if (units === '\n') return units;
    if (units === '\x1b' && SGR.test(text.slice(offset, offset + 32))) return units;
    return escapeUnits(units);
  });
}

function escapeUnits(units: string): string {
  let out = '';
  for (let i = 0; i < units.length; i++) out += `\\u${units.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}
