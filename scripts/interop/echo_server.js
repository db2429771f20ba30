// Echo server for scripts/interop.sh, on Node `ws`.
// Binds 127.0.0.1 on an ephemeral port, prints the port on stdout, and echoes
// every text and binary message back unchanged (same type) until killed.
// With the argument `deflate`, permessage-deflate is on (off by default in
// `ws`, as a server), with a 10-bit server window; the agreed extension goes
// to stderr.
'use strict';
const { WebSocketServer } = require('ws');

const deflate = process.argv[2] === 'deflate';
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  maxPayload: 16 * 1024 * 1024,
  perMessageDeflate: deflate ? { serverMaxWindowBits: 10, threshold: 64 } : false,
});
wss.on('listening', () => {
  process.stdout.write(`${wss.address().port}\n`);
});
wss.on('connection', (ws) => {
  process.stderr.write(`extensions: ${ws.extensions || 'None'}\n`);
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
});
