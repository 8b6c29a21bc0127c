// pool.management_reconfigure (Xapi_pool.management_reconfigure): every host moves its management
// interface to its PIF on the given network, in one transaction (all hosts or none).
// (pool.create_VLAN* live in vlan.ts.)
//
// Surface:
//   poolImpls — pool.management_reconfigure
import type { Ref } from '../../schema/index.js';
import type { Impls } from '../api/context.js';
import { ApiError } from '../errors.js';
import type { Txn } from '../store/store.js';
import { actualBridges, assertNoHa, assertUsableForManagement, managementReconfigure } from './host.js';
import { localPifs } from './network.js';

/** pool.management_reconfigure's checks in xapi's order, then host.management_reconfigure on the slaves, then the master. */
function reconfigure(tx: Txn, network: Ref<'network'>, master: string, bridges: readonly string[]): void {
  assertNoHa(tx);
  tx.get('network', network);
  const hosts = tx.refs('host');
  for (const h of hosts) if (localPifs(tx, network, h).length === 0) throw new ApiError('PIF_NOT_PRESENT', [h, network]);
  const pifs = tx.children('network', network, 'PIFs');
  const type = tx.get('PIF', pifs[0]).primary_address_type;
  for (const p of pifs) {
    if (tx.get('PIF', p).primary_address_type !== type) throw new ApiError('PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE', [p]);
    if (tx.get('PIF', p).managed) assertUsableForManagement(tx, p);
  }
  const order = [...hosts.filter((h) => h !== master), ...hosts.filter((h) => h === master)];
  for (const h of order) managementReconfigure(tx, localPifs(tx, network, h)[0], bridges);
}

/** Implementation of pool.management_reconfigure. */
export const poolImpls: Impls = {
  'pool.management_reconfigure': async (ctx, { network }) => {
    reconfigure(ctx.tx, network, ctx.tx.get('pool', ctx.d.poolRef).master, await actualBridges(ctx));
  },
};
