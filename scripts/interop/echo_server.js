// Echo server for scripts/interop.sh, on Node `ws`.
// Binds 127.0.0.1 on an ephemeral port, prints the port on stdout, and echoes
// every text and binary message back unchanged (same type) until killed.
'use strict';
const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 16 * 1024 * 1024 });
wss.on('listening', () => {
  process.stdout.write(`${wss.address().port}\n`);
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
});
