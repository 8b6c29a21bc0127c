// Must not compile: parameters bound by position, or passed on in the wrong order.
import type { ArgsOf } from '../../../schema/index.js';
import { withFlags, type Impls } from '../../../src/api/context.js';
import { vlanCreate } from '../../../src/xapi/vlan.js';

export const positional: Impls = {
  'VLAN.create': (ctx, [taggedPif, tag, network]) => vlanCreate(ctx.tx, taggedPif, tag, network).vlan, // error TS2488
};

export const swapped: Impls = {
  'VLAN.create': (ctx, { tagged_PIF, tag, network }) => vlanCreate(ctx.tx, network, tag, tagged_PIF).vlan, // error TS2345
};

export const misnamed: Impls = {
  'VLAN.create': (ctx, { taggedPif, tag, network }) => vlanCreate(ctx.tx, taggedPif, tag, network).vlan, // error TS2339
};

export const flagged: Impls = {
  'VLAN.create': withFlags((ctx, { taggedPif, tag, network }) => vlanCreate(ctx.tx, taggedPif, tag, network).vlan, { noDryRun: 'a test' }), // error TS2339
};

declare const pif: ArgsOf<'VLAN.create'>[0];
declare const network: ArgsOf<'VLAN.create'>[2];
export const call: ArgsOf<'VLAN.create'> = [network, 5, pif]; // error TS2322
