/**
 * Bencoding (BEP 3): the serialisation every DHT message travels in.
 * CONTRACT STUB: to be implemented.
 */

/** A decoded dictionary. Keys are byte strings carried as JS strings with one char per byte
 * (latin1), so sorting them as strings is sorting them as bytes. Null-prototype: `__proto__` is just a key. */
export interface BencodeDict {
  [key: string]: BencodeValue;
}
export type BencodeValue = number | bigint | Uint8Array | BencodeValue[] | BencodeDict;

/** What `encode` accepts: decoded values, plus JS strings (UTF-8) and Maps/plain objects for convenience. */
export type Encodable =
  | number
  | bigint
  | string
  | Uint8Array
  | readonly Encodable[]
  | { readonly [key: string]: Encodable | undefined }
  | ReadonlyMap<string | Uint8Array, Encodable>;

export interface DecodeOptions {
  /** Accept dictionaries whose keys are out of order (some clients send them). Duplicates are still rejected. Default false. */
  lenient?: boolean;
  /** Maximum nesting depth of lists/dicts. Default 64. */
  maxDepth?: number;
  /** Maximum total number of values (every int, string, list, dict counts one). Default 100_000. */
  maxItems?: number;
}

export class BencodeError extends Error {
  readonly offset: number;
  readonly reason: string;
  constructor(reason: string, offset: number) {
    super(`${reason} at byte ${offset}`);
    this.name = 'BencodeError';
    this.reason = reason;
    this.offset = offset;
  }
}

export function encode(_value: Encodable): Uint8Array {
  throw new Error('not implemented');
}

export function decode(_bytes: Uint8Array, _options?: DecodeOptions): BencodeValue {
  throw new Error('not implemented');
}
