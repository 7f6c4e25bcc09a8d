#!/usr/bin/env node
// fake_creds.js - a loopback credential service for the bucketfs credential
// tests: it speaks the protocols the AWS and Alibaba SDKs use, as their owners
// document them, checks what it is sent, and hands out real temporary
// credentials minted from the test's Ceph RGW (STS AssumeRole), so that a
// mount using them really works against the bucket.
//
//   EC2 IMDSv2        PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds: 1..21600)
//                     GET /latest/meta-data/iam/security-credentials/[ROLE]
//                         (X-aws-ec2-metadata-token required: "HttpTokens required")
//   ECS RAM role      the same with X-aliyun-ecs-metadata-token(-ttl-seconds) under
//                     /latest/meta-data/ram/security-credentials/
//   ECS/EKS container GET --container-path (Authorization must equal --container-token)
//   AWS STS           POST / Action=AssumeRoleWithWebIdentity (form; WebIdentityToken
//                     must equal --web-token)
//   Alibaba STS       POST /?Action=AssumeRoleWithOIDC&Format=JSON&Version=2015-04-01
//                     (form; OIDCToken must equal --oidc-token)
//
// Every request is logged as one JSON line (--log) with the headers and form
// fields that matter, so a test can check what the client sent.
// Modes (--mode, or POST /__mode?m=MODE at any time): ok, unauthorized (401),
// malformed (200 with a body that is not JSON/XML), expired (credentials whose
// Expiration is in the past), error (500).
// Node.js >= 18, standard library only; curl mints the credentials.
'use strict';

const http = require('http');
const fs = require('fs');
const crypto = require('crypto');
const { execFileSync } = require('child_process');

const USAGE = `usage: fake_creds.js --mint-endpoint URL --mint-key AK --mint-secret SK --role ARN [options]
  --port-file F        write the listening port here when ready
  --log F              one JSON line per request
  --duration N         DurationSeconds of the minted credentials (900)
  --role-name NAME     the instance role name the metadata services list (bfs-role)
  --container-path P   the container credentials path (/v2/credentials/task)
  --container-token T  the Authorization value the container endpoint wants
  --web-token T        the web identity token AssumeRoleWithWebIdentity wants
  --oidc-token T       the OIDC token AssumeRoleWithOIDC wants
  --mode M             ok | unauthorized | malformed | expired | error (ok)`;

function parseArgs(argv) {
  const o = {
    duration: 900,
    roleName: 'bfs-role',
    containerPath: '/v2/credentials/task',
    containerToken: '',
    webToken: '',
    oidcToken: '',
    mode: 'ok',
  };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(k in o) && !['portFile', 'log', 'mintEndpoint', 'mintKey', 'mintSecret', 'role'].includes(k)) {
      console.error(USAGE);
      process.exit(2);
    }
    o[k] = k === 'duration' ? Number(argv[i + 1]) : argv[i + 1];
  }
  for (const k of ['mintEndpoint', 'mintKey', 'mintSecret', 'role']) {
    if (!o[k]) {
      console.error(USAGE);
      process.exit(2);
    }
  }
  return o;
}

const opt = parseArgs(process.argv);
const tokens = new Map(); // metadata session token -> expiry (ms)

function log(entry) {
  if (opt.log) fs.appendFileSync(opt.log, JSON.stringify(entry) + '\n');
}

// Real temporary credentials from the RGW's STS.
function mint(sessionName) {
  const body = `Action=AssumeRole&Version=2011-06-15&RoleArn=${encodeURIComponent(opt.role)}` +
    `&RoleSessionName=${encodeURIComponent(sessionName)}&DurationSeconds=${opt.duration}`;
  const xml = execFileSync('curl', ['-sS', '--max-time', '30', '-X', 'POST', '--aws-sigv4', 'aws:amz:us-east-1:sts',
    '--user', `${opt.mintKey}:${opt.mintSecret}`, '-H', 'Content-Type: application/x-www-form-urlencoded',
    '--data', body, opt.mintEndpoint + '/'], { encoding: 'utf8' });
  const get = (tag) => (xml.match(new RegExp(`<${tag}>([^<]*)</${tag}>`)) || [])[1];
  const c = { id: get('AccessKeyId'), secret: get('SecretAccessKey'), token: get('SessionToken'), exp: get('Expiration') };
  if (!c.id) throw new Error('minting failed: ' + xml.slice(0, 200));
  // Seconds precision, "Z": what the metadata services send.
  c.exp = new Date(c.exp).toISOString().replace(/\.\d+Z$/, 'Z');
  if (opt.mode === 'expired') c.exp = new Date(Date.now() - 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  return c;
}

function send(res, status, type, body, entry) {
  entry.status = status;
  log(entry);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// The modes that replace a credential answer.
function modeAnswer(res, entry, json) {
  if (opt.mode === 'unauthorized') {
    send(res, 401, 'text/plain', 'Unauthorized', entry);
    return true;
  }
  if (opt.mode === 'error') {
    send(res, 500, 'text/plain', 'Internal Server Error', entry);
    return true;
  }
  if (opt.mode === 'malformed') {
    send(res, 200, json ? 'application/json' : 'text/xml', json ? '{"AccessKeyId": "AKIA' : '<Assume', entry);
    return true;
  }
  return false;
}

function metadata(req, res, entry, flavor) {
  const ttlHeader = flavor === 'aws' ? 'x-aws-ec2-metadata-token-ttl-seconds' : 'x-aliyun-ecs-metadata-token-ttl-seconds';
  const tokenHeader = flavor === 'aws' ? 'x-aws-ec2-metadata-token' : 'x-aliyun-ecs-metadata-token';
  const base = flavor === 'aws' ? '/latest/meta-data/iam/security-credentials/' : '/latest/meta-data/ram/security-credentials/';
  if (req.method === 'PUT' && entry.path === '/latest/api/token') {
    entry.ttl = req.headers[ttlHeader] || null;
    const ttl = Number(entry.ttl);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return send(res, 400, 'text/plain', 'Bad Request', entry);
    if (req.headers['x-forwarded-for']) return send(res, 403, 'text/plain', 'Forbidden', entry);
    const t = crypto.randomBytes(24).toString('base64');
    tokens.set(t, Date.now() + ttl * 1000);
    return send(res, 200, 'text/plain', t, entry);
  }
  if (req.method !== 'GET' || !entry.path.startsWith(base)) return send(res, 404, 'text/plain', 'Not Found', entry);
  const t = req.headers[tokenHeader];
  entry.token_sent = t !== undefined;
  entry.token_valid = t !== undefined && tokens.has(t) && tokens.get(t) > Date.now();
  if (!entry.token_valid) return send(res, 401, 'text/plain', 'Unauthorized', entry);
  const role = entry.path.slice(base.length);
  if (role === '') return send(res, 200, 'text/plain', opt.roleName, entry);
  if (role !== opt.roleName) return send(res, 404, 'text/plain', 'Not Found', entry);
  if (modeAnswer(res, entry, true)) return;
  const c = mint('imds-' + Date.now());
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const doc = flavor === 'aws'
    ? { Code: 'Success', LastUpdated: now, Type: 'AWS-HMAC', AccessKeyId: c.id, SecretAccessKey: c.secret,
      Token: c.token, Expiration: c.exp }
    : { AccessKeyId: c.id, AccessKeySecret: c.secret, Expiration: c.exp, SecurityToken: c.token, LastUpdated: now,
      Code: 'Success' };
  return send(res, 200, 'text/plain', JSON.stringify(doc, null, 2), entry);
}

function container(req, res, entry) {
  entry.authorization = req.headers.authorization || null;
  if (opt.containerToken && entry.authorization !== opt.containerToken) {
    return send(res, 401, 'application/json', '{"code":"AccessDenied","message":"bad authorization token"}', entry);
  }
  if (modeAnswer(res, entry, true)) return;
  const c = mint('container-' + Date.now());
  return send(res, 200, 'application/json', JSON.stringify({ AccessKeyId: c.id, SecretAccessKey: c.secret,
    Token: c.token, Expiration: c.exp, RoleArn: opt.role }), entry);
}

function stsError(res, entry, status, code, message) {
  return send(res, status, 'text/xml', `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>` +
    `<Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r1</RequestId></ErrorResponse>`,
  entry);
}

function webIdentity(res, entry, form) {
  for (const p of ['Version', 'RoleArn', 'RoleSessionName', 'WebIdentityToken']) {
    if (!form.get(p)) return stsError(res, entry, 400, 'ValidationError', `${p} is missing`);
  }
  if (form.get('WebIdentityToken') !== opt.webToken) {
    return stsError(res, entry, 400, 'InvalidIdentityToken', 'The web identity token is not valid');
  }
  if (modeAnswer(res, entry, false)) return;
  const c = mint(form.get('RoleSessionName'));
  return send(res, 200, 'text/xml', '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">' +
    '<AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>' +
    `<Credentials><SessionToken>${c.token}</SessionToken><SecretAccessKey>${c.secret}</SecretAccessKey>` +
    `<Expiration>${c.exp}</Expiration><AccessKeyId>${c.id}</AccessKeyId></Credentials>` +
    `<AssumedRoleUser><Arn>${opt.role}/x</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>` +
    '</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>' +
    '</AssumeRoleWithWebIdentityResponse>', entry);
}

function oidc(res, entry, query, form) {
  const json = (status, doc) => send(res, status, 'application/json;charset=utf-8', JSON.stringify(doc), entry);
  if (query.get('Format') !== 'JSON' || query.get('Version') !== '2015-04-01' || !query.get('Timestamp')) {
    return json(400, { RequestId: 'r1', Code: 'MissingParameter', Message: 'Format, Version and Timestamp are required' });
  }
  for (const p of ['RoleArn', 'OIDCProviderArn', 'OIDCToken', 'RoleSessionName']) {
    if (!form.get(p)) return json(400, { RequestId: 'r1', Code: 'MissingParameter', Message: `${p} is mandatory` });
  }
  if (form.get('OIDCToken') !== opt.oidcToken) {
    return json(400, { RequestId: 'r1', Code: 'AuthenticationFail.OIDCToken.Invalid', Message: 'the OIDC token is invalid' });
  }
  if (modeAnswer(res, entry, true)) return;
  const c = mint(form.get('RoleSessionName'));
  return json(200, { RequestId: 'r1', OIDCAssumedRoleUser: { Arn: form.get('RoleArn'), AssumedRoleId: 'x' },
    OIDCTokenInfo: { Subject: 'system:serviceaccount:ns:sa', Issuer: 'https://oidc', ClientIds: 'sts.aliyuncs.com' },
    Credentials: { SecurityToken: c.token, Expiration: c.exp, AccessKeySecret: c.secret, AccessKeyId: c.id } });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    const body = Buffer.concat(chunks).toString('utf8');
    const form = new URLSearchParams(body);
    const entry = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams) };
    try {
      if (url.pathname === '/__mode') {
        opt.mode = url.searchParams.get('m') || 'ok';
        return send(res, 200, 'text/plain', opt.mode, entry);
      }
      const action = url.searchParams.get('Action') || form.get('Action');
      if (action) {
        entry.form = Object.fromEntries(form);
        entry.content_type = req.headers['content-type'] || null;
        entry.authorization = req.headers.authorization || null;
        if (action === 'AssumeRoleWithWebIdentity') return webIdentity(res, entry, form);
        if (action === 'AssumeRoleWithOIDC') return oidc(res, entry, url.searchParams, form);
        return stsError(res, entry, 400, 'InvalidAction', `${action} is not served here`);
      }
      if (url.pathname === opt.containerPath) return container(req, res, entry);
      if (req.headers['x-aliyun-ecs-metadata-token-ttl-seconds'] || req.headers['x-aliyun-ecs-metadata-token'] ||
        url.pathname.startsWith('/latest/meta-data/ram/')) return metadata(req, res, entry, 'aliyun');
      return metadata(req, res, entry, 'aws');
    } catch (e) {
      entry.error = String(e.message || e);
      return send(res, 500, 'text/plain', 'fake_creds: ' + entry.error, entry);
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  if (opt.portFile) {
    fs.writeFileSync(opt.portFile + '.tmp', String(port));
    fs.renameSync(opt.portFile + '.tmp', opt.portFile);
  }
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
