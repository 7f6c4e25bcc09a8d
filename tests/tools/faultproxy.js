#!/usr/bin/env node
// faultproxy.js - a fault-injecting HTTP/1.1 reverse proxy for the bucketfs
// tests: put it between bucketfs (or curl) and an S3 server on 127.0.0.1.
//
// The request is forwarded exactly as the client sent it (method, raw path and
// query, every header in order including Host, body streamed), because S3
// signatures (V2, V4) cover the path, the query and the Host the client
// connected to; rewriting any of them would turn every fault test into a
// signature test. See tests/tools/README.md for flags, the control endpoint and
// the log format. Node.js >= 18, standard library only.
'use strict';

const http = require('http');
const fs = require('fs');
const netshape = require('./netshape');

const USAGE = `usage: faultproxy.js --upstream http://127.0.0.1:PORT [options]
  --listen-host H       address to listen on (127.0.0.1)
  --port N              port to listen on (0 = the kernel picks one)
  --port-file F         write the listening port to F (atomically) when ready
  --log F               one line per request (appended)
${netshape.USAGE}
  --seed N              seed of the fault decisions (default: from the clock; logged)
  --p503 P --p500 P --p429 P
                        percent of requests answered locally with that status
  --reset-req P         percent of requests whose client connection is reset
                        while the request body is received
  --reset-resp P        percent of requests forwarded, then reset mid-response
  --reset-after N       bytes to let through before such a reset (default 0 =
                        a random point inside the body)
  --delay-max MS        random delay up to MS before forwarding
  --delay-pct P         percent of requests delayed (100)
  --match REGEX         inject faults only into requests whose "METHOD /path?query"
                        matches (cuts apply to all)
  --cut-mode reset|hang during a cut: reset at once, or hang until the cut ends and
                        then reset (reset)
  --hold-writes         never forward a request that would change the bucket: a
                        DELETE of an object is answered 204 (the server is not
                        asked: the test must only delete keys it knows are absent),
                        every other non-GET/HEAD request 403 AccessDenied; reads
                        pass (config key holdWrites, switchable at run time)
  --signal-cut-seconds N  length of the cut SIGUSR2 starts (30)
  --control-prefix P    control endpoint path prefix (/__fault)
  --plan N              print the fault kinds the first N requests would get with
                        this seed and these percentages, one per line, and exit
                        (no --upstream needed; --match is ignored)
Signals: SIGUSR1 pauses/resumes fault injection, SIGUSR2 starts a cut,
SIGTERM/SIGINT shut down cleanly.`;

// --- configuration -------------------------------------------------------

const NUMERIC_KEYS = ['p503', 'p500', 'p429', 'resetReq', 'resetResp', 'resetAfter', 'delayMax', 'delayPct'];

function defaultConfig() {
  return {
    p503: 0,
    p500: 0,
    p429: 0,
    resetReq: 0,
    resetResp: 0,
    resetAfter: 0,
    delayMax: 0,
    delayPct: 100,
    match: '',
    cutMode: 'reset',
    paused: false,
    holdWrites: false,
  };
}

// Validates and merges `patch` into `cfg`; throws Error with a clear message.
function applyConfig(cfg, patch) {
  const next = { ...cfg };
  for (const [k, v] of Object.entries(patch)) {
    if (NUMERIC_KEYS.includes(k)) {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${k}: not a number >= 0: ${JSON.stringify(v)}`);
      if (k !== 'resetAfter' && k !== 'delayMax' && n > 100) throw new Error(`${k}: a percentage, got ${n}`);
      next[k] = n;
    } else if (k === 'match') {
      new RegExp(String(v)); // throws on a bad pattern
      next.match = String(v);
    } else if (k === 'cutMode') {
      if (v !== 'reset' && v !== 'hang') throw new Error(`cutMode: reset or hang, not ${JSON.stringify(v)}`);
      next.cutMode = v;
    } else if (k === 'paused') {
      next.paused = Boolean(v);
    } else if (k === 'holdWrites') {
      next.holdWrites = Boolean(v);
    } else {
      throw new Error(`unknown config key ${JSON.stringify(k)}`);
    }
  }
  const share = next.p503 + next.p500 + next.p429 + next.resetReq + next.resetResp;
  if (share > 100) throw new Error(`p503+p500+p429+resetReq+resetResp is ${share}%, more than 100%`);
  next.matchRe = next.match ? new RegExp(next.match) : null;
  return next;
}

function parseArgs(argv) {
  const flagToKey = {
    '--p503': 'p503', '--p500': 'p500', '--p429': 'p429', '--reset-req': 'resetReq',
    '--reset-resp': 'resetResp', '--reset-after': 'resetAfter', '--delay-max': 'delayMax',
    '--delay-pct': 'delayPct', '--match': 'match', '--cut-mode': 'cutMode',
  };
  const opt = {
    upstream: '', listenHost: '127.0.0.1', port: 0, portFile: '', log: '', seed: null,
    signalCutSeconds: 30, controlPrefix: '/__fault', patch: {}, plan: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    }
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    let val = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    const need = () => {
      if (val !== undefined) return val;
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    if (flag in flagToKey) opt.patch[flagToKey[flag]] = need();
    else if (flag === '--upstream') opt.upstream = need();
    else if (flag === '--listen-host') opt.listenHost = need();
    else if (flag === '--port') opt.port = Number(need());
    else if (flag === '--port-file') opt.portFile = need();
    else if (flag === '--log') opt.log = need();
    else if (flag === '--seed') opt.seed = Number(need());
    else if (flag === '--signal-cut-seconds') opt.signalCutSeconds = Number(need());
    else if (flag === '--control-prefix') opt.controlPrefix = need().replace(/\/+$/, '');
    else if (flag === '--plan') opt.plan = Number(need());
    else if (flag === '--hold-writes') opt.patch.holdWrites = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opt.plan) || opt.plan < 0) throw new Error('--plan must be a count');
  if (opt.plan > 0) {
    if (opt.seed === null) throw new Error('--plan needs --seed');
    return opt;
  }
  if (!opt.upstream) throw new Error('--upstream is required');
  const u = new URL(opt.upstream);
  if (u.protocol !== 'http:') throw new Error(`--upstream must be http://, not ${opt.upstream}`);
  opt.upstreamHost = u.hostname.replace(/^\[|\]$/g, '');
  opt.upstreamPort = Number(u.port || 80);
  if (!Number.isInteger(opt.port) || opt.port < 0 || opt.port > 65535) throw new Error('--port: 0..65535');
  if (opt.seed === null) opt.seed = Date.now() % 2147483647;
  if (!Number.isInteger(opt.seed)) throw new Error('--seed must be an integer');
  if (!(opt.signalCutSeconds > 0)) throw new Error('--signal-cut-seconds must be > 0');
  return opt;
}

// mulberry32: tiny, seedable, good enough to pick faults reproducibly.
function makeRng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- state -----------------------------------------------------------------

let opt;
let shape; // the shaping mode's flags (tests/tools/netshape.js)
try {
  const split = netshape.takeArgs(process.argv.slice(2));
  shape = split.shape;
  opt = parseArgs(split.rest);
  if (shape.active && (Object.keys(opt.patch).length > 0 || opt.plan > 0)) {
    throw new Error('the shaping flags make a TCP relay without faults; chain a shaping and a fault proxy');
  }
} catch (e) {
  process.stderr.write(`faultproxy: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}
if (shape.active) {
  netshape.run(opt, shape);
  return; // a CommonJS module may return: the rest of this file is the fault proxy
}
let cfg;
try {
  cfg = applyConfig(defaultConfig(), opt.patch);
} catch (e) {
  process.stderr.write(`faultproxy: ${e.message}\n`);
  process.exit(2);
}
const rng = makeRng(opt.seed);
if (opt.plan > 0) {
  // The same draws decide() makes, request by request, so a test can pick a
  // seed under which every fault class it checks for is certain to occur.
  const kinds = [];
  for (let i = 0; i < opt.plan; i++) kinds.push(decide({ method: '', url: '' }, true).kind);
  process.stdout.write(`${kinds.join('\n')}\n`);
  process.exit(0);
}
const logFd = opt.log ? fs.openSync(opt.log, 'a') : -1;
// One upstream connection per request: a kept-alive connection that the server
// closes while idle would fail the next request with a reset nobody configured.
const agent = new http.Agent({ keepAlive: false });
const inflight = new Set(); // exchanges being proxied, each {abort(), pause()}
const sockets = new Set();
let nextId = 1;
let cutUntil = 0; // ms epoch; a cut is active while Date.now() < cutUntil
let cutTimer = null;
let hung = []; // exchanges held by a hang-mode cut, reset when it ends

function zeroStats() {
  return {
    requests: 0, // proxied requests seen (control requests excluded)
    forwarded: 0, // requests sent upstream
    completed: 0, // responses delivered whole to the client
    faults: { none: 0, 503: 0, 500: 0, 429: 0, 'reset-req': 0, 'reset-resp': 0, delay: 0, cut: 0, held: 0 },
    upstreamStatus: {}, // status -> count
    upstreamErrors: 0, // upstream connection failures (client connection reset)
    clientAborts: 0, // client went away on its own
    cuts: 0,
  };
}
let stats = zeroStats();

function log(line) {
  if (logFd < 0) return;
  try {
    fs.writeSync(logFd, line + '\n'); // O_APPEND: whole lines, visible at once
  } catch (e) {
    process.stderr.write(`faultproxy: log write failed: ${e.message}\n`);
  }
}

const cutActive = () => Date.now() < cutUntil;

function startCut(seconds, mode) {
  cutUntil = Date.now() + seconds * 1000;
  stats.cuts++;
  if (cutTimer) clearTimeout(cutTimer);
  cutTimer = setTimeout(endCut, seconds * 1000);
  log(`${new Date().toISOString()} - CUT start seconds=${seconds} mode=${mode}`);
  // A dead network also kills the transfers in progress.
  for (const ex of [...inflight]) {
    if (mode === 'hang') {
      ex.pause();
      hung.push(ex);
    } else {
      ex.abort('cut');
    }
  }
}

function endCut() {
  cutUntil = 0;
  if (cutTimer) clearTimeout(cutTimer);
  cutTimer = null;
  const held = hung;
  hung = [];
  for (const ex of held) ex.abort('cut');
  log(`${new Date().toISOString()} - CUT end`);
}

// --- S3-style local errors ----------------------------------------------------

const LOCAL_ERRORS = {
  503: ['SlowDown', 'Please reduce your request rate.'],
  500: ['InternalError', 'We encountered an internal error. Please try again.'],
  429: ['TooManyRequests', 'Too many requests, please slow down.'],
};

function xmlEscape(s) {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);
}

function sendLocalError(req, res, status, id) {
  const [code, message] = LOCAL_ERRORS[status];
  const rid = `faultproxy-${opt.seed}-${id}`;
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message>` +
    `<Resource>${xmlEscape(req.url.split('?')[0])}</Resource><RequestId>${rid}</RequestId></Error>`;
  const headers = { 'Content-Type': 'application/xml', 'x-amz-request-id': rid, 'x-faultproxy': String(status) };
  if (status !== 500) headers['Retry-After'] = '1';
  // The body of the request is not wanted; drain it so the connection stays usable.
  req.resume();
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

// A request that would change the bucket, answered without the server (see
// --hold-writes): the bucket stays as it was while the client thinks a DELETE
// of an object worked and sees every upload refused.
function holdWrite(req, res, rec, finish, id) {
  stats.faults.held++;
  rec.fault = 'held';
  req.resume();
  const objectDelete = req.method === 'DELETE' && !/[?&]uploadId=/.test(req.url);
  if (objectDelete) {
    res.writeHead(204, { 'x-amz-request-id': `faultproxy-held-${id}`, 'x-faultproxy': 'held' });
    res.end();
  } else {
    const rid = `faultproxy-held-${id}`;
    const body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>' +
      '<Message>Writes are held by the test proxy.</Message>' +
      `<Resource>${xmlEscape(req.url.split('?')[0])}</Resource><RequestId>${rid}</RequestId></Error>`;
    res.writeHead(403, { 'Content-Type': 'application/xml', 'x-amz-request-id': rid, 'x-faultproxy': 'held' });
    res.end(body);
  }
  const code = objectDelete ? '204' : '403';
  res.on('finish', () => finish(code));
  res.on('close', () => finish(code));
}

// --- proxying --------------------------------------------------------------------

// Picks the faults for one request. Returns {kind, delay}; kind is one of none,
// 503, 500, 429, reset-req, reset-resp. Always draws the same number of random
// numbers so one request's config does not shift the next one's decisions.
function decide(req, planning = false) {
  const r = rng() * 100;
  const rd = rng();
  const rdelay = rng();
  const frac = rng(); // where a reset falls inside a body of known length
  if (cfg.paused) return { kind: 'none', delay: 0, frac };
  if (!planning && cfg.matchRe && !cfg.matchRe.test(`${req.method} ${req.url}`)) {
    return { kind: 'none', delay: 0, frac };
  }
  let kind = 'none';
  let edge = 0;
  for (const [k, p] of [['503', cfg.p503], ['500', cfg.p500], ['429', cfg.p429],
    ['reset-req', cfg.resetReq], ['reset-resp', cfg.resetResp]]) {
    edge += p;
    if (r < edge) {
      kind = k;
      break;
    }
  }
  const delay = cfg.delayMax > 0 && rd * 100 < cfg.delayPct ? Math.floor(rdelay * (cfg.delayMax + 1)) : 0;
  return { kind, delay, frac };
}

// where in a body of `len` bytes (-1 = unknown) to reset
function resetPoint(len, frac) {
  if (cfg.resetAfter > 0) return cfg.resetAfter;
  if (len > 0) return Math.floor(frac * len);
  return 0;
}

function handle(req, res) {
  if (req.url === opt.controlPrefix || req.url.startsWith(opt.controlPrefix + '/') ||
      req.url.startsWith(opt.controlPrefix + '?')) {
    return control(req, res);
  }
  const id = nextId++;
  const t0 = Date.now();
  stats.requests++;
  const rec = { fault: 'none', upstream: '-', client: '-', bytesIn: 0, bytesOut: 0, done: false };
  const finish = (clientStatus) => {
    if (rec.done) return;
    rec.done = true;
    rec.client = clientStatus;
    log(`${new Date().toISOString()} ${id} ${req.method} ${req.url} fault=${rec.fault} upstream=${rec.upstream} ` +
      `client=${rec.client} ms=${Date.now() - t0} in=${rec.bytesIn} out=${rec.bytesOut}`);
  };
  const sock = req.socket;
  const reset = () => {
    if (!sock.destroyed) {
      if (typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
      else sock.destroy();
    }
  };

  if (cfg.holdWrites && req.method !== 'GET' && req.method !== 'HEAD') return holdWrite(req, res, rec, finish, id);

  if (cutActive()) {
    stats.faults.cut++;
    rec.fault = 'cut';
    req.resume();
    if (cfg.cutMode === 'hang') {
      const ex = { abort: () => { reset(); finish('reset'); }, pause: () => {} };
      hung.push(ex);
    } else {
      reset();
      finish('reset');
    }
    return;
  }

  const { kind, delay, frac } = decide(req);
  const faults = [];
  stats.faults[kind]++; // every request counts once here; delays are counted on top
  if (delay > 0) {
    stats.faults.delay++;
    faults.push(`delay=${delay}ms`);
  }
  if (kind !== 'none' || delay === 0) faults.push(kind);
  rec.fault = faults.join('+');
  if (kind === 'none' || kind.startsWith('reset')) req.pause(); // hold the body until we forward

  const go = () => {
    if (sock.destroyed) {
      stats.clientAborts++;
      return finish('client-gone');
    }
    if (cutActive()) {
      // the cut began during our delay
      stats.faults.cut++;
      rec.fault += '+cut';
      reset();
      return finish('reset');
    }
    if (kind === '503' || kind === '500' || kind === '429') {
      sendLocalError(req, res, Number(kind), id);
      res.on('finish', () => finish(kind));
      res.on('close', () => finish(kind));
      return;
    }
    forward(req, res, kind, frac, rec, finish, reset);
  };
  if (delay > 0) setTimeout(go, delay);
  else go();
}

function forward(req, res, kind, frac, rec, finish, reset) {
  stats.forwarded++;
  const reqLen = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : -1;
  const cutReqAt = kind === 'reset-req' ? resetPoint(reqLen, frac) : -1;
  const cutRespAt = kind === 'reset-resp' ? -2 : -1; // decided once the response length is known
  const up = http.request({
    host: opt.upstreamHost,
    port: opt.upstreamPort,
    method: req.method,
    path: req.url, // raw bytes as received
    headers: req.rawHeaders, // same names, case, order, duplicates; Host included
    setHost: false,
    agent,
  });
  let upRes = null;
  const ex = {
    abort: (why) => {
      up.destroy();
      reset();
      finish(why === 'cut' ? 'reset(cut)' : 'reset');
    },
    pause: () => {
      req.pause();
      if (upRes) upRes.pause();
    },
  };
  inflight.add(ex);
  const done = () => inflight.delete(ex);

  // Expect: 100-continue is passed on; the client gets its 100 when the server sends one.
  up.on('continue', () => {
    if (!res.headersSent) res.writeContinue();
  });
  up.on('information', () => {});

  req.on('data', (chunk) => {
    if (cutReqAt >= 0 && rec.bytesIn + chunk.length >= cutReqAt) {
      const keep = Math.max(0, cutReqAt - rec.bytesIn);
      rec.bytesIn += keep;
      if (keep > 0) up.write(chunk.subarray(0, keep));
      // The server sees a truncated body and a dead connection, as on a real network.
      done();
      up.destroy();
      reset();
      return finish('reset');
    }
    rec.bytesIn += chunk.length;
    if (!up.write(chunk)) {
      req.pause();
      up.once('drain', () => {
        if (!cutActive()) req.resume();
      });
    }
  });
  req.on('end', () => {
    if (rec.done) return;
    if (cutReqAt >= 0) {
      // Body shorter than the reset point (or no body): reset before the answer.
      done();
      up.destroy();
      reset();
      return finish('reset');
    }
    up.end();
  });
  req.on('aborted', () => {
    if (!rec.done) stats.clientAborts++;
    done();
    up.destroy();
    finish('client-gone');
  });
  res.on('close', () => {
    if (!res.writableFinished && !rec.done) {
      // client connection closed before the response was complete
      stats.clientAborts++;
      done();
      up.destroy();
      finish('client-gone');
    }
  });

  up.on('error', (e) => {
    done();
    if (rec.done) return;
    stats.upstreamErrors++;
    if (rec.upstream === '-') rec.upstream = `ERR:${e.code || e.message}`;
    // An unreachable server looks like a broken network to the client.
    reset();
    finish('reset');
  });

  req.resume(); // handle() paused the body until now

  up.on('response', (ur) => {
    upRes = ur;
    rec.upstream = String(ur.statusCode);
    stats.upstreamStatus[ur.statusCode] = (stats.upstreamStatus[ur.statusCode] || 0) + 1;
    if (rec.done) return ur.resume();
    let cutAt = -1;
    if (cutRespAt === -2) {
      const len = ur.headers['content-length'] !== undefined ? Number(ur.headers['content-length']) : -1;
      cutAt = req.method === 'HEAD' ? 0 : resetPoint(len, frac);
    }
    if (cutAt === 0) {
      // reset before a byte of the answer: the server did the work, the client never hears
      ur.resume();
      done();
      reset();
      return finish('reset');
    }
    res.sendDate = false;
    res.writeHead(ur.statusCode, ur.statusMessage, ur.rawHeaders);
    ur.on('data', (chunk) => {
      if (rec.done) return;
      if (cutAt > 0 && rec.bytesOut + chunk.length >= cutAt) {
        const part = chunk.subarray(0, cutAt - rec.bytesOut);
        rec.bytesOut += part.length;
        ur.destroy();
        done();
        finish('reset');
        // let the partial bytes reach the kernel before the reset
        res.write(part, () => setTimeout(reset, 20));
        return;
      }
      rec.bytesOut += chunk.length;
      if (!res.write(chunk)) {
        ur.pause();
        res.once('drain', () => {
          if (!cutActive()) ur.resume();
        });
      }
    });
    ur.on('end', () => {
      if (rec.done) return;
      if (cutAt > 0) {
        // the body was shorter than the reset point: reset at its end
        done();
        finish('reset');
        return setTimeout(reset, 20);
      }
      res.end(() => {
        stats.completed++;
        done();
        finish(String(ur.statusCode));
      });
    });
    ur.on('error', () => ex.abort('upstream'));
  });
}

// --- control endpoint ---------------------------------------------------------------

function sendJson(res, status, obj) {
  const body = JSON.stringify(obj, null, 1) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function publicConfig() {
  const { matchRe, ...rest } = cfg; // eslint-disable-line no-unused-vars
  return rest;
}

function control(req, res) {
  const u = new URL(req.url, 'http://x');
  const route = `${req.method} ${u.pathname.slice(opt.controlPrefix.length)}`;
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    try {
      if (route === 'GET /stats') {
        return sendJson(res, 200, {
          ...stats, seed: opt.seed, cutActive: cutActive(),
          cutRemainingMs: Math.max(0, cutUntil - Date.now()), inflight: inflight.size, config: publicConfig(),
        });
      }
      if (route === 'POST /stats/reset') {
        stats = zeroStats();
        return sendJson(res, 200, { ok: true });
      }
      if (route === 'GET /config') return sendJson(res, 200, publicConfig());
      if (route === 'POST /config' || route === 'PUT /config') {
        const patch = body.trim() ? JSON.parse(body) : {};
        if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new Error('a JSON object');
        const reset = u.searchParams.get('reset') === '1';
        cfg = applyConfig(reset ? defaultConfig() : cfg, patch);
        log(`${new Date().toISOString()} - CONFIG ${JSON.stringify(publicConfig())}`);
        return sendJson(res, 200, publicConfig());
      }
      if (route === 'POST /cut') {
        const seconds = Number(u.searchParams.get('seconds') ?? '');
        const mode = u.searchParams.get('mode') || cfg.cutMode;
        if (!Number.isFinite(seconds) || seconds < 0) throw new Error('seconds: a number >= 0');
        if (mode !== 'reset' && mode !== 'hang') throw new Error('mode: reset or hang');
        if (seconds === 0) endCut();
        else {
          cfg = applyConfig(cfg, { cutMode: mode });
          startCut(seconds, mode);
        }
        return sendJson(res, 200, { cutActive: cutActive(), cutRemainingMs: Math.max(0, cutUntil - Date.now()) });
      }
      return sendJson(res, 404, { error: `no control route ${route}` });
    } catch (e) {
      return sendJson(res, 400, { error: e.message });
    }
  });
}

// --- server ---------------------------------------------------------------------------

const server = http.createServer({ requestTimeout: 0, headersTimeout: 60000, keepAliveTimeout: 30000 });
server.keepAliveTimeout = 30000;
server.on('request', handle);
// Without this Node would answer 100 Continue itself, before the fault decision and
// before the server agreed: pass the decision on to handle()/forward() instead.
server.on('checkContinue', handle);
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
server.on('clientError', (err, s) => {
  if (s.writable && err.code !== 'ECONNRESET') s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  else s.destroy();
});

let stopping = false;
function shutdown(sig) {
  if (stopping) return;
  stopping = true;
  log(`${new Date().toISOString()} - STOP ${sig} stats=${JSON.stringify(stats)}`);
  server.close();
  for (const s of sockets) s.destroy();
  agent.destroy();
  if (logFd >= 0) fs.closeSync(logFd);
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGHUP', () => shutdown('SIGHUP'));
process.on('SIGUSR1', () => {
  cfg = applyConfig(cfg, { paused: !cfg.paused });
  log(`${new Date().toISOString()} - SIGUSR1 paused=${cfg.paused}`);
});
process.on('SIGUSR2', () => startCut(opt.signalCutSeconds, cfg.cutMode));

server.on('error', (e) => {
  process.stderr.write(`faultproxy: ${e.message}\n`);
  process.exit(1);
});
server.listen(opt.port, opt.listenHost, () => {
  const port = server.address().port;
  log(`${new Date().toISOString()} - START port=${port} upstream=${opt.upstream} seed=${opt.seed} ` +
    `config=${JSON.stringify(publicConfig())}`);
  if (opt.portFile) {
    fs.writeFileSync(opt.portFile + '.tmp', `${port}\n`);
    fs.renameSync(opt.portFile + '.tmp', opt.portFile);
  }
  process.stderr.write(`faultproxy: listening on ${opt.listenHost}:${port} -> ${opt.upstream} seed=${opt.seed}\n`);
});
