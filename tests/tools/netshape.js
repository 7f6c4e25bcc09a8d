// netshape.js - the shaping mode of faultproxy.js (--shape-rtt-ms,
// --shape-mb-per-s): a TCP relay that makes a server on 127.0.0.1 look like
// one across a wide-area link, for the benchmark (bench/run.sh BENCH_NET=wan).
//
// What exactly is delayed. The relay works on the byte stream of each client
// connection, below HTTP, so every protocol step pays what it pays on a real
// link:
//   - every chunk read from one side reaches the other side rtt/2 after its
//     last byte left the sender's queue (a one-way propagation delay, in each
//     direction), so a request/response exchange on an open connection costs
//     one rtt more than on loopback, and `Expect: 100-continue` costs its real
//     extra round trip;
//   - the first bytes of a new connection leave one rtt late: the TCP
//     handshake a real client waits for before it can send;
//   - each direction of each client connection is serialised at the capped
//     rate (a flow limited by its window), so a body of N bytes takes
//     N / rate + rtt/2; parallel connections each get the full rate.
// Not modelled: slow start, loss, TLS handshakes, a cap shared by all
// connections. The relay reads at most one bandwidth-delay product plus
// 1 MiB ahead per direction, then stops reading, so a fast sender blocks as
// behind a full TCP window instead of filling the relay's memory.
//
// The bytes are relayed unchanged (Host, signatures, keep-alive: all the
// client's own), one upstream connection per client connection.
'use strict';

const net = require('net');
const fs = require('fs');
const { performance } = require('perf_hooks');

const USAGE = `  --shape-rtt-ms MS     shaping mode: a TCP relay adding MS ms of round-trip time
  --shape-mb-per-s R    shaping mode: cap each direction of each connection at
                        R MB/s (10^6 bytes; 0 = no cap). Either flag makes the
                        proxy a shaping relay: no faults, no control endpoint.`;

const FLAGS = { '--shape-rtt-ms': 'rttMs', '--shape-mb-per-s': 'mbPerS' };

// Splits the shaping flags off argv. Returns {shape: {active, rttMs, mbPerS},
// rest: the other arguments}; throws Error with a clear message on a bad value.
function takeArgs(argv) {
  const shape = { active: false, rttMs: 0, mbPerS: 0 };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (!(flag in FLAGS)) {
      rest.push(a);
      continue;
    }
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new Error(`${flag} needs a value`);
    const n = Number(v);
    if (v === '' || !Number.isFinite(n) || n < 0) throw new Error(`${flag}: a number >= 0, not ${JSON.stringify(v)}`);
    shape[FLAGS[flag]] = n;
    shape.active = true;
  }
  return { shape, rest };
}

// One direction of one connection: chunks read from src are written to dst
// once due (see the header for the timing).
class Line {
  constructor(src, dst, oneWayMs, bytesPerMs, highWater, firstAt) {
    this.src = src;
    this.dst = dst;
    this.oneWayMs = oneWayMs;
    this.bytesPerMs = bytesPerMs;
    this.highWater = highWater;
    this.free = firstAt; // when the link can start sending the next chunk
    this.queue = []; // {chunk (null = end of stream), due}
    this.queued = 0;
    this.bytes = 0;
    this.timer = null;
    this.blocked = false; // dst's buffer is full: wait for 'drain'
    this.paused = false; // src paused: the queue is at its high-water mark
  }

  push(chunk) {
    const begin = Math.max(performance.now(), this.free);
    this.free = begin + (this.bytesPerMs > 0 ? chunk.length / this.bytesPerMs : 0);
    this.queue.push({ chunk, due: this.free + this.oneWayMs });
    this.queued += chunk.length;
    if (this.queued >= this.highWater && !this.paused) {
      this.paused = true;
      this.src.pause();
    }
    this.pump();
  }

  end() {
    this.queue.push({ chunk: null, due: Math.max(performance.now(), this.free) + this.oneWayMs });
    this.pump();
  }

  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
  }

  pump() {
    if (this.timer || this.blocked) return;
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0].due <= now) {
      const { chunk } = this.queue.shift();
      if (chunk === null) {
        this.dst.end();
        return;
      }
      this.queued -= chunk.length;
      this.bytes += chunk.length;
      if (!this.dst.write(chunk)) {
        this.blocked = true;
        this.dst.once('drain', () => {
          this.blocked = false;
          this.pump();
        });
        break;
      }
    }
    if (this.paused && this.queued < this.highWater / 2) {
      this.paused = false;
      this.src.resume();
    }
    if (!this.blocked && this.queue.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, Math.max(0, this.queue[0].due - now));
    }
  }
}

// Runs the relay until SIGTERM/SIGINT/SIGHUP. opt: faultproxy's parsed options
// (upstreamHost, upstreamPort, listenHost, port, portFile, log, upstream).
function run(opt, shape) {
  const oneWayMs = shape.rttMs / 2;
  const bytesPerMs = shape.mbPerS * 1000;
  // a bandwidth-delay product plus 1 MiB; 16 MiB when the rate is not capped
  const highWater = bytesPerMs > 0 ? Math.ceil(bytesPerMs * shape.rttMs) + (1 << 20) : 16 << 20;
  const logFd = opt.log ? fs.openSync(opt.log, 'a') : -1;
  const log = (line) => {
    if (logFd >= 0) fs.writeSync(logFd, `${new Date().toISOString()} ${line}\n`);
  };
  const sockets = new Set();
  let nextId = 1;

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const id = nextId++;
    const t0 = performance.now();
    const up = net.connect({ host: opt.upstreamHost, port: opt.upstreamPort, allowHalfOpen: true });
    for (const s of [client, up]) {
      s.setNoDelay(true); // the relay adds only the delays it means to
      sockets.add(s);
    }
    const toServer = new Line(client, up, oneWayMs, bytesPerMs, highWater, t0 + shape.rttMs);
    const toClient = new Line(up, client, oneWayMs, bytesPerMs, highWater, t0);
    client.on('data', (c) => toServer.push(c));
    client.on('end', () => toServer.end());
    up.on('data', (c) => toClient.push(c));
    up.on('end', () => toClient.end());
    let closed = 0;
    const onClose = (s, hadError) => {
      sockets.delete(s);
      if (hadError) {
        // a reset on one side is a reset on the other, at once
        toServer.stop();
        toClient.stop();
        const other = s === client ? up : client;
        if (typeof other.resetAndDestroy === 'function' && other.readyState !== 'opening') other.resetAndDestroy();
        else other.destroy();
      }
      if (++closed === 2) {
        log(`${id} CONN up=${toServer.bytes} down=${toClient.bytes} ms=${Math.round(performance.now() - t0)}` +
          `${hadError ? ' reset' : ''}`);
      }
    };
    client.on('close', (e) => onClose(client, e));
    up.on('close', (e) => onClose(up, e));
    client.on('error', () => {});
    up.on('error', (e) => log(`${id} UPSTREAM-ERROR ${e.code || e.message}`));
  });

  const shutdown = (sig) => {
    log(`- STOP ${sig}`);
    server.close();
    for (const s of sockets) s.destroy();
    if (logFd >= 0) fs.closeSync(logFd);
    process.exit(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => shutdown(sig));
  server.on('error', (e) => {
    process.stderr.write(`faultproxy: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(opt.port, opt.listenHost, () => {
    const port = server.address().port;
    log(`- START port=${port} upstream=${opt.upstream} shape rttMs=${shape.rttMs} mbPerS=${shape.mbPerS}`);
    if (opt.portFile) {
      fs.writeFileSync(opt.portFile + '.tmp', `${port}\n`);
      fs.renameSync(opt.portFile + '.tmp', opt.portFile);
    }
    process.stderr.write(`faultproxy: shaping relay on ${opt.listenHost}:${port} -> ${opt.upstream}, ` +
      `rtt ${shape.rttMs} ms, ${shape.mbPerS || 'no cap'} MB/s per connection and direction\n`);
  });
}

module.exports = { takeArgs, run, USAGE };
