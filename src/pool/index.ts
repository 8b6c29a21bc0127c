// The pool: roles, forwarding between daemons, start-up sync (docs/pool.md).
export { PoolService, type PoolConfig } from './service.js';
export { poolJoinImpls } from './impls.js';
