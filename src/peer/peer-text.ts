/**
 * Text a peer sent (a client name, a torrent's name or path): bytes from a stranger that end up on
 * a terminal. Decoded as UTF-8 with invalid bytes replaced, control characters replaced by U+FFFD.
 */

/** `bytes` as printable text. */
export function peerText(bytes: Uint8Array): string {
  return printable(utf8(bytes));
}

/** UTF-8, invalid bytes replaced (never throws). */
export function utf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

/** Control characters (C0, DEL, C1) become U+FFFD: names come from strangers and end up on terminals. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\uFFFD');
}

/** A bencoded dictionary key (bytes held as a latin1 string, see bencode.ts) as printable text. */
export function keyText(key: string): string {
  return peerText(Buffer.from(key, 'latin1'));
}
