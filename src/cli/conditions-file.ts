/**
 * --conditions: a preset's name, or a JSON file of network conditions (docs/testnet.md). A bad
 * file is a usage error that names the field, never a silently ideal network.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ConditionsError, PRESETS, parseConditions, type NetworkConditions, type PresetName } from '../modes/testnet-conditions.js';
import { UsageError } from './options.js';

/** A conditions file is a few hundred bytes; anything this big is not one. */
const MAX_FILE_BYTES = 64 * 1024;

export async function loadConditions(spec: string | undefined): Promise<PresetName | NetworkConditions> {
  if (spec === undefined) return 'ideal';
  if (Object.hasOwn(PRESETS, spec)) return spec as PresetName;
  let text: string;
  try {
    if ((await stat(spec)).size > MAX_FILE_BYTES) throw new UsageError(`--conditions: ${spec} is over ${MAX_FILE_BYTES} bytes`);
    text = await readFile(spec, 'utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--conditions: ${JSON.stringify(spec)} is neither a preset (${Object.keys(PRESETS).join(', ')}) nor a readable file`);
  }
  try {
    return parseConditions(JSON.parse(text) as unknown, basename(spec).replace(/\.json$/, ''));
  } catch (error) {
    const why = error instanceof ConditionsError || error instanceof SyntaxError ? error.message : String(error);
    throw new UsageError(`--conditions: ${spec}: ${why}`);
  }
}
