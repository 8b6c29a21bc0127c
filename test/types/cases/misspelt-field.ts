// Must not compile: a field or class the datamodel does not have, or a value of the wrong type.
import type { Impls } from '../../../src/api/context.js';

export const impls: Impls = {
  'PIF.plug': (ctx, { self }) => {
    const row = ctx.tx.get('PIF', self);
    ctx.tx.get('network', row.netwrok); // error TS2551
    ctx.tx.set('PIF', self, { MTUU: 9000 }); // error TS2561
    ctx.tx.set('PIF', self, { ip_configuration_mode: 'Dynamic' }); // error TS2322
    ctx.tx.get('PIf', self); // error TS2345
  },
};
