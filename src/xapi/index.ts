// Every semantics module's implementations, by wire name. A message the datamodel declares
// becomes callable when one of these modules implements it.
import type { Impls } from '../api/context.js';

/** Implementations of the networking classes' custom messages. */
export const semanticsImpls: Impls = {};
