// Must not compile: an error code schema/errors.ts does not declare, raised or declared by a message.
import type { Impls } from '../../../src/api/context.js';
import { ApiError } from '../../../src/errors.js';
import { T, defineClass, p } from '../../../schema/types.js';

export const impls: Impls = {
  'PIF.plug': (_ctx, { self }) => {
    throw new ApiError('PIF_IS_BROKEN', [self]); // error TS2345
  },
};

export const cls = defineClass({
  name: 'gadget',
  doc: 'A class whose message lists an undeclared error.',
  roles: { messages: 'pool-admin' },
  fields: [],
  messages: [
    { name: 'poke', params: [p('self', T.ref('gadget'))], result: T.void, doc: 'Pokes.', errors: ['GADGET_ON_FIRE'] }, // error TS2322
  ],
});
