// Decoded wire values that keep the distinctions XenAPI's type checks need: an XML-RPC
// <double> is not an <int>, a <dateTime.iso8601> is not a string.

/** A value that arrived as a float (XML-RPC <double>). */
export class WireDouble {
  constructor(readonly value: number) {}
}
/** A value that arrived as an XML-RPC <dateTime.iso8601>. */
export class WireDateTime {
  constructor(readonly value: string) {}
}

/** A request as the codecs hand it to the dispatcher. */
export interface RpcCall {
  method: string;
  params: unknown[];
}

/** A malformed request (not a methodCall, bad JSON-RPC envelope): answered with HTTP 500. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Characters XML 1.0 cannot carry; stored strings never hold them (rejected at input). */
export const XML_ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/** A piece of a bulk reply's slice that writes itself (a compact cached record, assembled into the slice). */
export interface SlicePiece {
  /** How many bytes writePiece writes. */
  readonly pieceBytes: number;
  /** Writes the piece into `out` at `at`; returns the offset after it. */
  writePiece(out: Buffer, at: number): number;
}

/**
 * A value whose wire forms are already encoded (a cached record, src/api/records.ts): the
 * codecs write these bytes as they are instead of encoding the value again.
 */
export abstract class Encoded {
  /** The whole XML-RPC Success reply carrying this value. */
  abstract xmlReply(): Buffer;
  /** The XML-RPC `<value>…</value>` alone (a view into xmlReply's bytes). */
  abstract xml(): Buffer;
  /** The XML-RPC struct member `<member><name>key</name>` + xml() + `</member>` (bulk replies). */
  abstract xmlMember(key: string): Buffer | SlicePiece;
  /** The JSON text of the value. */
  abstract json(): Buffer;
  /** The value itself, for encoders that need it as data (JSON.stringify inside a larger value). */
  abstract plain(): unknown;
}
