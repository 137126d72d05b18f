// startMock from the installed package, as a test runner uses it (node:test here; the
// same calls work in Vitest's globalSetup or Playwright's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { startMock, MockError } from 'revkeen-mock';

const KEY = 'rk_sandbox_npm_consumer_key_0001';

/** A call to the mock's API with KEY. */
async function api(mock, method, path, body) {
  const res = await fetch(mock.url + path, {
    method,
    headers: { 'x-api-key': KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

/** Whether anything answers on the port. */
async function answers(port) {
  try {
    await fetch(`http://127.0.0.1:${port}/__mock/health`);
    return true;
  } catch {
    return false;
  }
}

test('failing credentials, the clock moved, the breaker open through the API; requests counted', async () => {
  const started = performance.now();
  const mock = await startMock({ seed: 7 });
  console.log(`# startMock resolved in ${(performance.now() - started).toFixed(1)} ms (goal < 300)`);
  try {
    assert.match(mock.url, /^http:\/\/127\.0\.0\.1:\d+\/v2$/);
    await mock.clock.freeze();
    const activated = await api(mock, 'POST', '/integrations/wodify/activate', {
      credentials: { apiKey: 'fail_sync_demo', baseUrl: 'https://gym.wodify.example' },
    });
    assert.equal(activated.status, 200);
    assert.equal(activated.body.data.providerState.mode, 'closed');

    const clock = await mock.clock.advance(3660);
    assert.equal(clock.frozen, true);
    const wodify = await api(mock, 'GET', '/integrations/wodify');
    assert.equal(wodify.status, 200);
    assert.equal(wodify.body.data.providerState.mode, 'open', 'five failed syncs opened the breaker');
    assert.equal(wodify.body.data.syncHealth, 'paused');

    assert.equal(await mock.requests.count({ method: 'POST', path: '/v2/integrations/wodify/activate' }), 1);
    assert.equal(await mock.requests.count({ key: KEY }), 2);
    const [latest] = await mock.requests.list({ key: KEY });
    assert.equal(latest.operationId, 'getIntegration');

    const coverage = await mock.coverage(KEY);
    const met = coverage.states.filter((s) => s.met).map((s) => s.name);
    assert.ok(met.includes('breaker.open'), met.join(', '));
  } finally {
    await mock.stop();
  }
  assert.equal(await answers(mock.port), false, 'stopped: nothing answers');
});

test('faults, fixtures and reset over the admin API', async () => {
  const mock = await startMock({ fixture: 'breaker-open', seed: 1 });
  try {
    const rules = await mock.faults.add({ match: { key: KEY }, action: { type: 'error', status: 503 } });
    assert.equal(rules.length, 1);
    assert.equal((await api(mock, 'GET', '/integrations')).status, 503);
    await mock.faults.clear();
    assert.deepEqual(await mock.faults.list(), []);
    assert.equal((await api(mock, 'GET', '/integrations')).status, 200);

    await mock.loadFixture('default');
    await mock.reset();
    await mock.requests.clear();
    assert.equal(await mock.requests.count(), 0);

    await assert.rejects(mock.loadFixture('no-such-fixture'), (e) => {
      assert.ok(e instanceof MockError);
      assert.equal(e.status, 404);
      assert.equal(e.error.code, 'resource_not_found');
      return true;
    });
  } finally {
    await mock.stop();
  }
});

test('parallel mocks get their own ports and worlds', async () => {
  const [a, b] = await Promise.all([startMock(), startMock()]);
  try {
    assert.notEqual(a.port, b.port);
    await api(a, 'POST', '/integrations/terminal/activate', {
      credentials: { apiKey: 'ok_terminal', baseUrl: 'https://pos.example' },
    });
    assert.equal((await api(a, 'GET', '/integrations/terminal')).body.data.isActive, true);
    // The same key on the other mock: a merchant that never activated anything.
    assert.equal((await api(b, 'GET', '/integrations/terminal')).body.data, null);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('a mock that cannot start rejects with its own words', async () => {
  await assert.rejects(startMock({ fixture: 'no-such-fixture' }), (e) => {
    assert.ok(e instanceof MockError);
    assert.match(e.message, /exited before listening/);
    assert.match(e.message, /no-such-fixture/);
    return true;
  });
});

test('the mock ends with the process that started it, even when that process is killed', async () => {
  // A parent that starts a mock, prints its port and pid, then dies by SIGKILL (no exit
  // handler runs): its pipe closes and --stop-with-stdin stops the mock.
  const parent = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { startMock } from 'revkeen-mock';
       const m = await startMock();
       console.log(JSON.stringify({ port: m.port, pid: m.pid }));
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = await new Promise((resolve) => parent.stdout.once('data', (d) => resolve(String(d))));
  const { port, pid } = JSON.parse(line);
  assert.equal(await answers(port), true);
  parent.kill('SIGKILL');
  let alive = true;
  for (let i = 0; i < 100 && alive; i++) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
  }
  assert.equal(alive, false, 'the mock stopped within 5 s of its parent being killed');
});

test('CommonJS require gives the same API', () => {
  const require = createRequire(import.meta.url);
  const cjs = require('revkeen-mock');
  assert.equal(typeof cjs.startMock, 'function');
  assert.equal(typeof cjs.binaryPath(), 'string');
});
