/**
 * Step 1: bencoding (BEP 3). One real KRPC query, built by krpc.ts exactly as our node would send
 * it, shown byte by byte, then decoded back, first as raw bencode, then as a typed message.
 */
import { BencodeError, decode, decodeMessage, encodeMessage, idToHex, makeQuery } from '../../src/index.js';
import { describeMessage } from '../lib/describe-message.js';
import { bencodeTokens, formatTokens, hexDump } from '../lib/bencode-dump.js';
import type { DemoContext } from './context.js';

export async function bencodeStep({ net, me, out }: DemoContext): Promise<void> {
  const torrent = net.torrents[0]!;
  out.say(
    'Every DHT message is one bencoded dictionary in one UDP datagram. Bencoding has four types: ' +
      'byte strings (4:spam), integers (i42e), lists (l...e) and dictionaries (d...e, keys sorted).',
  );
  const t = new Uint8Array([0x61, 0x61]);
  const query = makeQuery(t, 'get_peers', { id: me.id, info_hash: torrent.infoHash });
  const bytes = encodeMessage(query);
  out.say(
    `makeQuery(t, 'get_peers', { id, info_hash }) and encodeMessage() give the ${bytes.length} bytes our node ` +
      `would send to ask for the peers of torrent ${idToHex(torrent.infoHash).slice(0, 12)}…:`,
  );
  out.block(hexDump(bytes));
  out.say('Token by token (offset, raw bytes, meaning); note the sorted keys a, q, t, y:');
  out.block(formatTokens(bencodeTokens(bytes)));

  const raw = decode(bytes);
  const parsed = decodeMessage(bytes);
  if (!parsed.ok) throw new Error(`our own query did not parse: ${parsed.error.message}`);
  out.say(`decode() returns plain values (keys ${Object.keys(raw as object).join(', ')}); decodeMessage() checks every field against the KRPC tables and returns a typed message:`);
  out.block(describeMessage(parsed.message));
  const again = encodeMessage(parsed.message);
  const identical = again.length === bytes.length && again.every((b, i) => b === bytes[i]);
  if (!identical) throw new Error('re-encoding the decoded message changed its bytes');

  out.say('A value has exactly one encoding, and the decoder insists on it:');
  const unsorted = new TextEncoder().encode('d1:b0:1:a0:e');
  try {
    decode(unsorted);
    throw new Error('unsorted keys were accepted');
  } catch (error) {
    if (!(error instanceof BencodeError)) throw error;
    out.block(['decode("d1:b0:1:a0:e") throws', `  BencodeError: ${error.message}`]);
  }
  out.result(`bencode: ${bytes.length} bytes, decoded to a typed get_peers query, re-encoded`);
}
