#!/usr/bin/env node
// s3rver-run.js - run the pinned s3rver (tests/node_modules) with an access log.
//
// s3rver's own request log is unusable for counting requests (its koa-logger
// line is cut at a fixed offset and loses the method and path when colours are
// off), so this wrapper writes one line per finished request, in the shape of
// RGW's beast log:  "PUT /bucket/key?partNumber=3&uploadId=... HTTP/1.1" 200
//
// Usage: node s3rver-run.js DATA_DIR PORT ACCESS_LOG READY_FILE [BUCKET]
//   PORT 0 lets the kernel pick a free port. Once listening, the port number
//   is written to READY_FILE (atomically, via rename). Exits on SIGTERM/SIGINT.
'use strict';

const fs = require('fs');
const path = require('path');

const [dir, port, accessLog, readyFile, bucket] = process.argv.slice(2);
if (!dir || port === undefined || !accessLog || !readyFile) {
  console.error('usage: s3rver-run.js DATA_DIR PORT ACCESS_LOG READY_FILE [BUCKET]');
  process.exit(2);
}
// S3RVER_MODULES: another node_modules holding s3rver (e.g. an unpatched install).
const S3rver = require(path.join(process.env.S3RVER_MODULES || path.join(__dirname, '..', 'node_modules'), 's3rver'));

async function main() {
  fs.mkdirSync(dir, { recursive: true });
  const log = fs.createWriteStream(accessLog, { flags: 'a' });
  const server = new S3rver({
    directory: dir,
    address: '127.0.0.1',
    port: Number(port),
    silent: false,
    configureBuckets: bucket ? [{ name: bucket, configs: [] }] : [],
  });
  const addr = await server.run();
  server.httpServer.on('request', (req, res) => {
    const t0 = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      log.write(
        `${new Date().toISOString()} 127.0.0.1 "${req.method} ${req.url} HTTP/${req.httpVersion}" ` +
          `${res.statusCode} latency=${ms.toFixed(1)}ms\n`,
      );
    });
  });
  fs.writeFileSync(readyFile + '.tmp', `${addr.port}\n`);
  fs.renameSync(readyFile + '.tmp', readyFile);
  console.log(`s3rver listening on 127.0.0.1:${addr.port} (data ${dir})`);
  // exit at once (after flushing the log): waiting for keep-alive clients could hang a teardown
  const stop = () => log.end(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error('s3rver-run:', err && err.stack ? err.stack : err);
  process.exit(1);
});
