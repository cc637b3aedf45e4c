// A Mocha spec file in the shape that cannot run under `mocha --parallel`:
// each test starts an HTTP server on the fixed port 127.0.0.1:8000 and checks
// that its client reaches its own server (a per-test token). Copied eight
// times by tests/e2e/workers.c; run bare and under `portshim run
// [--per-worker]`.
//
// RDV_DIR and RDV_WORKERS: the first test of each worker waits (at most 30 s)
// until every worker has tried to bind, so that without a namespace per
// worker the servers collide every time rather than by luck of timing.
'use strict';
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');

const worker = process.env.MOCHA_WORKER_ID || 'main';
const firstMark = path.join(process.env.RDV_DIR, 'tried.' + worker);

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function rendezvous() {
  const n = Number(process.env.RDV_WORKERS);
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    if (fs.readdirSync(process.env.RDV_DIR).filter((f) => f.startsWith('tried.')).length >= n)
      return;
    await sleep(20);
  }
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(8000, '127.0.0.1', () => resolve());
  });
}

function get() {
  return new Promise((resolve, reject) => {
    http.get({host: '127.0.0.1', port: 8000, path: '/', agent: false}, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('a server on 127.0.0.1:8000 (' + path.basename(__filename) + ')', function () {
  for (let n = 0; n < 2; n++) {
    it('its client reaches its own server ' + n, async function () {
      const token = crypto.randomBytes(16).toString('hex');
      const server = http.createServer((req, res) => res.end(token));
      const first = !fs.existsSync(firstMark);
      try {
        await listen(server);
      } finally {
        if (first) fs.writeFileSync(firstMark, '');
      }
      try {
        if (first) await rendezvous();
        assert.strictEqual(await get(), token);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });
  }
});
