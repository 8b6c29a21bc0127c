// --record redaction: passwords and pool secrets never reach a recording, and the recording
// still replays. A password parameter becomes REDACTED (the login succeeded) or REDACTED_WRONG
// (it failed); scripts/replay.ts sends the replay daemon's password, or a wrong one, in their
// place. Pool secrets and slave tokens (values the daemon knows) are replaced wherever they
// appear, requests and replies alike.
import type { Exchange } from '../wire/http.js';
import { parseJsonCall } from '../wire/jsonrpc.js';
import { parseCall } from '../wire/xmlrpc.js';

/** What a password that worked is recorded as. */
export const REDACTED = '(redacted)';
/** What a password that was refused is recorded as. */
export const REDACTED_WRONG = '(redacted: wrong)';
/** What a pool secret or token is recorded as. */
export const REDACTED_SECRET = '(redacted: pool secret)';

/** Wire parameters (0-based, the session included) that carry a password or secret, by message. */
const SECRET_PARAMS: Record<string, number[]> = {
  'session.login_with_password': [1],
  'session.slave_local_login_with_password': [1],
  'session.slave_login': [1],
  'pool.join': [3],
  'host.apply_network_state': [0],
  'host.become_standalone': [0],
};

/** The message a wire name calls (Async. / DryRun. prefixes stripped). */
function messageOf(method: string): string {
  return method.replace(/^(DryRun\.)?((Internal)?Async\.)?/, '');
}

function succeeded(ex: Exchange, json: boolean): boolean {
  if (ex.status !== 200) return false;
  if (json) {
    try {
      return 'result' in (JSON.parse(ex.response) as object);
    } catch {
      return false;
    }
  }
  return /<name>Status<\/name>\s*<value>(<string>)?Success/.test(ex.response);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Replaces the `k`-th <param> of an XML-RPC methodCall with a string. */
function replaceXmlParam(body: string, k: number, value: string): string {
  let i = -1;
  return body.replace(/<param>([\s\S]*?)<\/param>/g, (whole) => (++i === k ? `<param><value><string>${escapeXml(value)}</string></value></param>` : whole));
}

/** A copy of an exchange with passwords and the given secrets replaced. */
export function redactExchange(ex: Exchange, secrets: Iterable<string>): Exchange {
  const out = { ...ex };
  const json = ex.path.startsWith('/jsonrpc');
  let method: string | undefined;
  try {
    method = (json ? parseJsonCall(ex.request) : parseCall(ex.request)).method;
  } catch {
    method = undefined; // not a call: nothing to find by position
  }
  const idx = method === undefined ? undefined : SECRET_PARAMS[messageOf(method)];
  if (idx) {
    const placeholder = messageOf(method!).startsWith('session.') ? (succeeded(ex, json) ? REDACTED : REDACTED_WRONG) : REDACTED_SECRET;
    if (json) {
      const j = JSON.parse(ex.request) as { params?: unknown[] };
      if (Array.isArray(j.params)) for (const k of idx) if (k < j.params.length) j.params[k] = placeholder;
      out.request = JSON.stringify(j);
    } else {
      for (const k of idx) out.request = replaceXmlParam(out.request, k, placeholder);
    }
  }
  for (const s of secrets) {
    if (s.length < 8) continue; // only real secrets (random hex), never a short common string
    out.request = out.request.split(s).join(REDACTED_SECRET);
    out.response = out.response.split(s).join(REDACTED_SECRET);
  }
  return out;
}
