// Must compile: a handler written against the types derived from schema/.
import type { ArgsOf } from '../../../schema/index.js';
import { withFlags, type Impls } from '../../../src/api/context.js';
import { ApiError } from '../../../src/errors.js';
import { vlanCreate } from '../../../src/xapi/vlan.js';

export const impls: Impls = {
  'VLAN.create': (ctx, { tagged_PIF, tag, network }) => {
    const pif = ctx.tx.get('PIF', tagged_PIF);
    if (!pif.managed) throw new ApiError('PIF_UNMANAGED', [tagged_PIF]);
    ctx.tx.set('PIF', tagged_PIF, { other_config: { ...pif.other_config, seen: pif.device } });
    return vlanCreate(ctx.tx, tagged_PIF, tag, network).vlan;
  },
  'VLAN.destroy': withFlags((ctx, { self }) => ctx.tx.destroy('VLAN', self), { dryRun: async (_ctx, { self }) => ({ self }) as never }),
  'Bond.set_mode': (ctx, { self, value }) => {
    if (ctx.tx.get('Bond', self).mode !== value) ctx.tx.set('Bond', self, { mode: value });
  },
};

export const call: ArgsOf<'VLAN.create'> = ['OpaqueRef:pif', 5, 'OpaqueRef:network'];
