// The managed node controller (seeds 000/001): POST /ifcfg/config with a node's NIC report
// ({"<MAC>": "<device>", ...}) returns the configuration of the pool member that report
// identifies — the host whose physical PIFs have the most of those MACs — as one bash file
// (ifcfg.ts nodeConfig): the pre-config script and the augtool file that make the node's
// network-scripts exactly the manager's view of that host. A report no member matches is a 404
// that says so. NICs in the report the host does not have yet are introduced (seed 000 step 2:
// "saving records for new NICs reported"), unplugged. On a pool slave the request is redirected
// (307, body kept) to the master, which holds every member.
//
// Authentication (docs/backends.md): a session (`?session_id=OpaqueRef:...` or the header
// `X-Session-Id`), HTTP Basic with a user of --users, or the node's own token: `Authorization:
// Bearer <t>` where <t> is the identified host's other_config:node-config-token, which the
// manager's operator sets (xe host-param-set other-config:node-config-token=...) and puts on
// the node. Anything else is 401 before the report is even read.
import type { Daemon } from '../api/context.js';
import { assertHolds, loginIdentity } from '../api/rbac.js';
import { gatedAuth, sameSecret } from '../api/session.js';
import type { ApiError } from '../errors.js';
import { desiredState } from '../reconciler/desired.js';
import type { Row, Store } from '../store/store.js';
import type { RouteHandler } from '../wire/http.js';
import { introduceInternal } from '../xapi/introduce.js';
import { isIfName, isMac } from '../../schema/values.js';

/** The path of the managed node controller. */
export const NODE_CONFIG_PATH = '/ifcfg/config';

/** The host.other_config key holding a node's token. */
export const NODE_TOKEN_KEY = 'node-config-token';

/** The member a report identifies: most physical-PIF MACs in common (ties: none, ambiguous). */
export function identifyHost(store: Store, macs: string[]): string | undefined {
  const want = new Set(macs);
  const score = new Map<string, number>();
  for (const [, p] of store.rows('PIF')) {
    if (!p.physical || !want.has(p.MAC.toLowerCase())) continue;
    score.set(p.host, (score.get(p.host) ?? 0) + 1);
  }
  const ranked = [...score].sort((a, b) => b[1] - a[1]);
  if (!ranked.length || (ranked.length > 1 && ranked[0][1] === ranked[1][1])) return undefined;
  return ranked[0][0];
}

/** The route; `masterUrl()` is the master's URL on a slave, undefined on a master. */
export function nodeConfigRoute(d: Daemon, masterUrl: () => string | undefined): RouteHandler {
  const text = (status: number, body: string, headers?: Record<string, string>) => ({ status, contentType: 'text/plain; charset=utf-8', body, headers });
  const store = d.store;
  return async (req, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const master = masterUrl();
    if (master)
      return text(307, `this host is a pool slave: ask the master ${master}\n`, { Location: `${master.replace(/\/$/, '')}${url.pathname}${url.search}` });

    const auth = String(req.headers.authorization ?? '');
    const peer = req.socket.remoteAddress ?? '';
    const unauthorized = (why: string) => text(401, why, { 'WWW-Authenticate': 'Basic realm="xenapi-netd"' });
    const sid = url.searchParams.get('session_id') ?? String(req.headers['x-session-id'] ?? '');
    // The caller as RBAC sees it when it is a user (a session, or HTTP Basic); a node's token is not one.
    let user: Pick<Row, 'is_local_superuser' | 'subject'> | undefined = sid !== '' ? store.find('session', sid) : undefined;
    const basic = /^Basic\s+(\S+)$/i.exec(auth);
    if (!user && basic) {
      const dec = Buffer.from(basic[1], 'base64').toString('utf8');
      const i = dec.indexOf(':');
      const name = i > 0 ? dec.slice(0, i) : '';
      // A password check like a login's: bounded per address and in total, a failure delayed (no fast guessing here either).
      try {
        await gatedAuth(d, peer, async () => i > 0 && (await d.authenticate(name, dec.slice(i + 1))), name);
      } catch (e) {
        return unauthorized(`authentication failed: ${(e as ApiError).params?.[1] ?? 'Authentication failure'}\n`);
      }
      user = loginIdentity(store, name, d.roleOf(name));
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
    if (!user && !bearer) {
      return unauthorized("authentication required: ?session_id=<session>, HTTP Basic, or Authorization: Bearer <the node's node-config-token>\n");
    }

    let map: unknown;
    try {
      map = JSON.parse(body.toString('utf8'));
    } catch {
      return text(400, 'expected a JSON object {"<MAC>": "<device>", ...}\n');
    }
    if (map === null || typeof map !== 'object' || Array.isArray(map) || !Object.values(map).every((v) => typeof v === 'string')) {
      return text(400, 'expected a JSON object {"<MAC>": "<device>", ...}\n');
    }
    const report = new Map<string, string>();
    for (const [m, dev] of Object.entries(map as Record<string, string>)) {
      const mac = m.trim().toLowerCase();
      if (!isMac(mac) || !isIfName(dev)) return text(400, `bad NIC in the report: ${JSON.stringify(m)} → ${JSON.stringify(dev)}\n`);
      report.set(mac, dev);
    }
    const host = identifyHost(store, [...report.keys()]);
    if (!user) {
      // A node's token is a password too: a wrong one (or one for no known node) waits as a failed login does.
      const tok = host ? (store.get('host', host).other_config as Record<string, string>)[NODE_TOKEN_KEY] : undefined;
      try {
        await gatedAuth(d, peer, async () => !!tok && sameSecret(tok, bearer!), 'node-config-token');
      } catch (e) {
        const why = (e as ApiError).params?.[1];
        return unauthorized(
          why === 'Authentication failure' ? `the token does not belong to ${host ? 'this node' : 'a host this manager knows'}\n` : `${why}\n`,
        );
      }
    }
    if (!host) {
      return text(
        404,
        `no host of this pool has the NICs ${[...report.keys()].join(', ') || '(none reported)'}: this manager does not know the node (add it to the pool first)\n`,
      );
    }

    // Seed 000 step 2: NICs the host does not have yet are recorded (unplugged PIFs on xenbr<N>).
    const known = new Set(store.children('host', host, 'PIFs').map((r) => store.get('PIF', r).MAC.toLowerCase()));
    const fresh = [...report].filter(([mac]) => !known.has(mac));
    if (fresh.length) {
      // Recording NICs is PIF.introduce's work: a user needs its permission (the node's own token may).
      if (user) {
        try {
          assertHolds(store, user, 'pif.introduce');
        } catch (e) {
          return text(403, `${(e as ApiError).code}: ${(e as ApiError).params.join(': ')}\n`);
        }
      }
      await store.write((tx) => {
        for (const [mac, device] of fresh) {
          if (tx.children('host', host, 'PIFs').some((r) => tx.get('PIF', r).device === device && Number(tx.get('PIF', r).VLAN) === -1)) continue;
          introduceInternal(tx, host, { device, MAC: mac, MTU: 1500, carrier: false });
        }
      });
      d.log.info(`node config: ${store.get('host', host).name_label} reported new NICs ${fresh.map(([m, dv]) => `${dv} (${m})`).join(', ')}: introduced`);
    }
    // The host's NICs as its physical, non-VLAN PIFs say (device, MAC), whatever host this daemon is.
    const nics = store
      .children('host', host, 'PIFs')
      .map((r) => store.get('PIF', r))
      .filter((p) => p.physical && Number(p.VLAN) === -1)
      .map((p) => ({ device: p.device, MAC: p.MAC, MTU: Number(p.MTU), carrier: true }));
    try {
      // The ifcfg renderer, loaded by the first node that asks (most daemons have no nodes).
      const { nodeConfig } = await import('../backends/ifcfg.js');
      return text(200, nodeConfig(desiredState(store, host), nics, Object.fromEntries(report)));
    } catch (e) {
      return text(500, `cannot render the node configuration: ${(e as Error).message}\n`);
    }
  };
}
