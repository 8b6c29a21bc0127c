// A throwaway TLS certificate for tests that serve HTTPS (openssl, a P-256 key, valid one day).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Writes key.pem and cert.pem for CN `cn` (and subjectAltName `san`, e.g. "IP:127.0.0.1") into `dir`; returns their paths. */
export function selfSignedCert(dir: string, cn: string, san?: string): { cert: string; key: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-days',
      '1',
      ...(san ? ['-addext', `subjectAltName=${san}`] : []),
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
