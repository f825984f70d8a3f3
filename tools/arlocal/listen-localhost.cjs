// Preloaded into arlocal with `node --require`: arlocal calls `server.listen(port, cb)`
// with no host, which listens on every interface. This forces the host to the address in
// ARLOCAL_HOST (default 127.0.0.1) for every TCP listen in the process, so the test
// gateway is never reachable from the network.
'use strict';
const net = require('net');
const host = process.env.ARLOCAL_HOST || '127.0.0.1';
const original = net.Server.prototype.listen;
net.Server.prototype.listen = function listen(...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    // listen(port[, host][, backlog][, cb]): drop any host given, keep the callback.
    const port = Number(args[0]);
    const cb = args.find((a) => typeof a === 'function');
    return original.call(this, { port, host }, cb);
  }
  if (args[0] && typeof args[0] === 'object' && !Array.isArray(args[0]) && args[0].path === undefined) {
    return original.call(this, { ...args[0], host }, ...args.slice(1));
  }
  return original.apply(this, args);
};
