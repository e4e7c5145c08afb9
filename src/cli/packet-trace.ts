/** `--trace`: each KRPC packet sent and received, decoded, as one line on stderr. */
import { decodeMessage } from '../wire/krpc.js';
import type { PacketListener } from '../net/packet-tap.js';
import { formatEndpoint } from '../wire/address.js';
import { messageLine } from './krpc-text.js';
import type { Output } from './terminal.js';

/** A listener for withPacketTap that prints `> 1.2.3.4:6881 q ping t=...` (sent) or `< ...` (received). */
export function packetTracer(output: Output, started = Date.now()): PacketListener {
  return (direction, bytes, peer) => {
    const decoded = decodeMessage(bytes);
    const text = decoded.ok ? messageLine(decoded.message) : `undecodable ${bytes.length} bytes: ${decoded.error.message}`;
    const ms = String(Date.now() - started).padStart(6);
    output.err(`${output.paint('dim', `${ms} ms`)} ${direction === 'sent' ? '>' : '<'} ${formatEndpoint(peer)} ${text}`);
  };
}
