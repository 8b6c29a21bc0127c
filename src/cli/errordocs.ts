// Error documentation for the CLI's messages: loaded only when a command fails.
import { errors } from '../../schema/errors.js';
import type { ErrorDef } from '../../schema/types.js';

const byCode = new Map(errors.map((e) => [e.code, e]));

/** The datamodel's description of an error code, if it has one. */
export function errorDef(code: string): ErrorDef | undefined {
  return byCode.get(code);
}
