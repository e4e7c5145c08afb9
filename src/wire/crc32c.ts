/**
 * CRC-32C (Castagnoli), the checksum BEP 42 hashes a node's masked IP with. BEP 42 ("Rationale")
 * chose it over SHA-1 because it is fast, spreads IPs uniformly over the ID space, and is a single
 * SSE 4.2 instruction. It is NOT zlib's CRC-32: same algorithm, different polynomial.
 *
 * Parameters (the "CRC-32C" entry of the usual CRC catalogues): width 32, reflected input and output,
 * initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF, reflected polynomial 0x82F63B78. Check value:
 * crc32c("123456789") = 0xE3069283.
 */

/** The Castagnoli polynomial 0x1EDC6F41, bit-reversed because this CRC processes bits LSB first. */
export const CRC32C_POLYNOMIAL = 0x82f63b78;

/**
 * TABLE[b] is the CRC register after shifting byte b through it bit by bit. With it, each input byte
 * costs one lookup instead of eight shift-and-maybe-XOR steps.
 */
const TABLE: Uint32Array = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) {
      // Reflected CRC: the lowest bit falls out; if it was 1, the polynomial is subtracted (XORed).
      crc = crc & 1 ? (crc >>> 1) ^ CRC32C_POLYNOMIAL : crc >>> 1;
    }
    table[byte] = crc;
  }
  return table;
}

const utf8 = new TextEncoder();

/**
 * The CRC-32C of `data` as an unsigned 32-bit number. Strings are hashed as their UTF-8 bytes.
 *
 * To checksum data that arrives in pieces, pass the previous result as `previous`:
 * crc32c(b, crc32c(a)) === crc32c(a + b). The default 0 is the CRC of nothing.
 */
export function crc32c(data: Uint8Array | string, previous = 0): number {
  const bytes = typeof data === 'string' ? utf8.encode(data) : data;
  // Undo the final XOR of `previous` to get the raw register back (for 0 this is the 0xFFFFFFFF start).
  let crc = ~previous;
  for (let i = 0; i < bytes.length; i++) {
    crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  }
  return ~crc >>> 0;
}
