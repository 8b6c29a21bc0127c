// The baseline: node:http answering every POST with the same canned bytes (read from a file),
// with the headers the daemon sends. What the daemon costs beyond this is its own work.
import http from 'node:http';
import { readFileSync } from 'node:fs';

const [port, file] = process.argv.slice(2);
const reply = readFileSync(file);
http
  .createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      // The daemon's head for a client that sends no Origin (CORS headers go only to allowed
      // origins, docs/security.md): the two CORS headers sent here until session 6 made the
      // baseline do more than the daemon.
      res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': reply.length });
      res.end(reply);
    });
  })
  .listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
