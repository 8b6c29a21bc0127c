// The daemon's logger: `<ISO time> <level> <message>` lines on stderr and, with --log-file,
// appended to that file; npm's levels (error, warn, info, http, verbose, debug, silly), and a
// level this does not know logs nothing. Every call, whatever the level, is also emitted as a
// 'data' event ({ level, message }) for whoever listens (tests), as winston's logger stream did.
// winston wrote the same lines before; with logform and its streams it held ~2 MB resident in an
// idle daemon for what needs a few lines (make bench, area memory).
import { EventEmitter } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

/** What the daemon logs through (a winston Logger fits too: tests hand one in to capture lines). */
export interface Log {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

const LEVELS: Record<string, number> = { error: 0, warn: 1, info: 2, http: 3, verbose: 4, debug: 5, silly: 6 };

/** The daemon's logger (see the head of this file). */
export class DaemonLog extends EventEmitter implements Log {
  private readonly max: number;
  private readonly out?: WriteStream;

  /** Lines at `level` and above go to stderr, and to `file` when given. */
  constructor(level: string, file?: string) {
    super();
    this.max = LEVELS[level] ?? -1;
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      this.out = createWriteStream(file, { flags: 'a' });
    }
  }

  private write(level: string, message: string): void {
    if (this.listenerCount('data')) this.emit('data', { level, message });
    if (LEVELS[level] > this.max) return;
    const line = `${new Date().toISOString()} ${level} ${message}\n`;
    process.stderr.write(line);
    this.out?.write(line);
  }

  error(message: string): void {
    this.write('error', message);
  }
  warn(message: string): void {
    this.write('warn', message);
  }
  info(message: string): void {
    this.write('info', message);
  }
  debug(message: string): void {
    this.write('debug', message);
  }
}
