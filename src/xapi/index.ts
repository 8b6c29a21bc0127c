// Every semantics module's implementations, by wire name. A message the datamodel declares
// becomes callable when one of these modules implements it. The pool's messages (src/pool/, a
// layer above this one) are added by the daemon, which composes both.
import type { Impls } from '../api/context.js';
import { bondImpls } from './bond.js';
import { hostImpls } from './host.js';
import { networkImpls } from './network.js';
import { pifImpls } from './pif.js';
import { poolImpls } from './pool.js';
import { tunnelImpls } from './tunnel.js';
import { vifImpls } from './vif.js';
import { vlanImpls } from './vlan.js';
import { vmImpls } from './vm.js';

/** Implementations of the networking classes' custom messages. */
export const semanticsImpls: Impls = {
  ...bondImpls,
  ...hostImpls,
  ...pifImpls,
  ...poolImpls,
  ...networkImpls,
  ...tunnelImpls,
  ...vifImpls,
  ...vlanImpls,
  ...vmImpls,
};
