/**
 * `--save-torrent DIR`: the .torrent is named after the torrent, as a browser names a download.
 * The name comes from the metadata, that is from a stranger: it must stay one file inside DIR
 * (no separators, no "..", no leading dot), be printable, and fit the usual 255-byte name limit.
 */
import { idToHex } from '../wire/id.js';

/** Bytes of UTF-8 kept from the name, leaving room for ".torrent" under 255. */
const MAX_NAME_BYTES = 200;

/** A file name for the torrent's metadata: its name made safe, or its info-hash when nothing is left. */
export function torrentFileName(name: string, infoHash: Uint8Array): string {
  // Path separators, characters Windows refuses, controls, bidi and invisible characters.
  // eslint-disable-next-line no-control-regex
  let safe = name.replace(/[/\\<>:"|?*\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g, '_');
  safe = safe.replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  safe = cutUtf8(safe, MAX_NAME_BYTES);
  return `${safe === '' ? idToHex(infoHash) : safe}.torrent`;
}

/** The longest prefix of `text` that is at most `max` bytes of UTF-8, never splitting a character. */
function cutUtf8(text: string, max: number): string {
  let bytes = 0;
  let out = '';
  for (const character of text) {
    bytes += Buffer.byteLength(character);
    if (bytes > max) break;
    out += character;
  }
  return out;
}
