/**
 * The extension protocol (BEP 10): the reserved bit 0x10 of the BEP 3 handshake's byte 5 says "I
 * speak BEP 10", then extended message 0 is each side's extension handshake, naming the extensions
 * it supports and the message id it wants each under:
 *
 *   extended message 0: {m: {ut_metadata: 1}}                         ours
 *   extended message 0: {m: {ut_metadata: 3}, metadata_size: 31235}   theirs
 *
 * BEP 9 (ut-metadata.ts) rides on it; so does the probe's client name (`v`).
 */
import { decodeDict, encode, isDict } from '../wire/bencode.js';
import { peerText } from './peer-text.js';

export interface ExtendedHandshake {
  /** Extension name to the message id the sender wants to receive it under (0 = disabled). */
  m: Map<string, number>;
  /** BEP 9: size of the info dictionary in bytes. */
  metadataSize?: number;
  /** BEP 10 `v`: client name and version, UTF-8. */
  client?: string;
  /** BEP 10 `p`: the sender's TCP listen port. */
  port?: number;
  /** BEP 10 `reqq`: how many outstanding requests the sender accepts. */
  reqq?: number;
}

export function encodeExtendedHandshake(handshake: ExtendedHandshake): Uint8Array {
  return encode({
    m: Object.fromEntries(handshake.m),
    metadata_size: handshake.metadataSize,
    p: handshake.port,
    reqq: handshake.reqq,
    v: handshake.client,
  });
}

/**
 * Read an extension handshake. Unknown keys are ignored (BEP 10 expects more); a known key with the
 * wrong type is ignored too rather than fatal, because only `m` is needed to go on.
 */
export function parseExtendedHandshake(payload: Uint8Array): ExtendedHandshake {
  const dict = decodeDict(payload, 'extension handshake');
  const m = new Map<string, number>();
  const rawM = dict.m;
  if (isDict(rawM)) {
    for (const [name, id] of Object.entries(rawM)) {
      if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 255) m.set(name, id);
    }
  }
  const out: ExtendedHandshake = { m };
  const size = dict.metadata_size;
  if (typeof size === 'number') out.metadataSize = size;
  else if (typeof size === 'bigint') out.metadataSize = Number.MAX_SAFE_INTEGER;
  if (dict.v instanceof Uint8Array) out.client = peerText(dict.v.subarray(0, 64));
  if (typeof dict.p === 'number' && dict.p > 0 && dict.p < 65536) out.port = dict.p;
  if (typeof dict.reqq === 'number' && dict.reqq > 0) out.reqq = dict.reqq;
  return out;
}
