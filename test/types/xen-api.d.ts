// The npm xen-api package (Xen Orchestra's connector) ships no declarations; the tests use this much.
declare module 'xen-api' {
  export interface XapiClient {
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    call(method: string, ...args: unknown[]): Promise<unknown>;
    callAsync(method: string, ...args: unknown[]): Promise<unknown>;
    readonly objects: { all: Record<string, Record<string, any>> };
    readonly objectsFetched: Promise<void>;
    readonly status: string;
    [k: string]: any;
  }
  export function createClient(opts: Record<string, unknown>): XapiClient;
}
