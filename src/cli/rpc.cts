// The CLI's XenAPI transport: JSON-RPC 2.0 on /jsonrpc (which xapi serves too) as plain
// HTTP/1.1 requests written on kept-alive sockets. A CLI run makes a handful of calls, so what
// matters is start-up: node:http (its agent, parser and streams) and any XML-RPC client would
// cost more to load than the calls take; replies go through the native JSON.parse. TLS is
// loaded only for https.
import net from 'node:net';

/** A XenAPI Failure: the ErrorDescription (code first, then its parameters). */
export class Failure extends Error {
  constructor(readonly desc: string[]) {
    super(desc.join(' '));
  }
}

/** An HTTP-level failure (not a JSON-RPC reply). */
export class HttpError extends Error {}

type Connect = () => net.Socket;

/** One HTTP/1.1 connection: requests one after another, replies read by Content-Length or chunks. */
class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private waiting?: () => void;
  private closed = false;
  private error?: Error;
  busy = false;
  constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.wake();
    });
    sock.on('end', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', (e) => {
      this.error = e;
      this.closed = true;
      this.wake();
    });
  }
  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
  get dead(): boolean {
    return this.closed || this.sock.destroyed;
  }
  /** Waits until the buffer holds `n` bytes (or the connection ends: then what there is). */
  private async need(n: number): Promise<void> {
    while (this.buf.length < n && !this.closed) await new Promise<void>((r) => (this.waiting = r));
    if (this.error) throw this.error;
  }
  private take(n: number): Buffer {
    const b = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return b;
  }
  private async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.take(i).toString('latin1');
        this.take(2);
        return l;
      }
      if (this.closed) throw this.error ?? new HttpError('connection closed by the server');
      await this.need(this.buf.length + 1);
    }
  }

  async request(host: string, body: string): Promise<{ status: number; body: Buffer }> {
    const payload = Buffer.from(body, 'utf8');
    this.sock.write(
      `POST /jsonrpc HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: xe-netd\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`,
    );
    this.sock.write(payload);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(await this.line())?.[1] ?? NaN);
    if (!Number.isFinite(status)) throw new HttpError('not an HTTP reply');
    const headers = new Map<string, string>();
    for (let l = await this.line(); l !== ''; l = await this.line()) {
      const c = l.indexOf(':');
      if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
    }
    let out: Buffer;
    if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const size = parseInt(await this.line(), 16);
        if (!Number.isFinite(size)) throw new HttpError('bad chunk');
        if (size === 0) {
          while ((await this.line()) !== '');
          break;
        }
        await this.need(size + 2);
        parts.push(Buffer.from(this.take(size)));
        this.take(2);
      }
      out = Buffer.concat(parts);
    } else if (headers.has('content-length')) {
      const n = Number(headers.get('content-length'));
      await this.need(n);
      if (this.buf.length < n) throw new HttpError('reply cut short');
      out = Buffer.from(this.take(n));
    } else {
      await this.need(Infinity);
      out = this.take(this.buf.length);
    }
    if (/close/i.test(headers.get('connection') ?? '')) this.closed = true;
    return { status, body: out };
  }
}

/** Calls to one server; concurrent calls use up to four connections. */
export class Rpc {
  private conns: Conn[] = [];
  private id = 0;
  private constructor(
    readonly url: URL,
    private connect: Connect,
  ) {}

  /** A client for `url` (http or https; https certificates are not checked unless `verify`). */
  static async open(url: URL, verify = false): Promise<Rpc> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (url.protocol === 'https:') {
      const tls = await import('node:tls');
      const port = Number(url.port) || 443;
      return new Rpc(url, () => tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: verify }));
    }
    const port = Number(url.port) || 80;
    return new Rpc(url, () => net.connect({ host, port }));
  }

  private conn(): Conn {
    this.conns = this.conns.filter((c) => !c.dead);
    const idle = this.conns.find((c) => !c.busy);
    if (idle) return idle;
    const c = new Conn(this.connect());
    c.sock.setNoDelay(true);
    this.conns.push(c);
    return c;
  }

  /** Calls `method` with `params` as they go on the wire. */
  async call<T = any>(method: string, ...params: unknown[]): Promise<T> {
    const c = this.conn();
    c.busy = true;
    let r: { status: number; body: Buffer };
    try {
      r = await c.request(this.url.host, JSON.stringify({ jsonrpc: '2.0', method, params, id: ++this.id }));
    } catch (e) {
      c.sock.destroy();
      throw e;
    } finally {
      c.busy = false;
    }
    let j: any;
    try {
      j = JSON.parse(r.body.toString('utf8'));
    } catch {
      throw new HttpError(`HTTP ${r.status}: not a JSON-RPC reply`);
    }
    if (j && j.error) {
      const e = j.error;
      throw new Failure([String(e.message), ...(Array.isArray(e.data) ? e.data.map(String) : e.data === undefined ? [] : [String(e.data)])]);
    }
    return j?.result as T;
  }

  /** Closes the connections so the process can exit at once. */
  close(): void {
    for (const c of this.conns) c.sock.destroy();
    this.conns = [];
  }
}
