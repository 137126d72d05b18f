'use strict';
// startMock: the mock as a child process of a test runner (Vitest, Playwright, node:test,
// Jest), driven through its admin API. One implementation, in CommonJS; index.mjs
// re-exports it for ESM. Types: index.d.cts / index.d.mts, over admin.d.ts (generated
// from specs/admin.yaml by openapi-typescript).
const { spawn } = require('child_process');
const { binaryPath } = require('./platform.cjs');

/** The line the mock logs once it listens: its origin and the API's base path. */
const LISTENING = /listening on (https?:\/\/[^\s/]+)(\/[^\s]*)?/;
/** Log lines kept for an error message (and `logs()`). */
const KEPT_LINES = 200;

/** An admin call the mock refused, or a mock that would not start. */
class MockError extends Error {
  constructor(message, details = {}) {
    super(message);
    this.name = 'MockError';
    Object.assign(this, details);
  }
}

/** The command line `serve` gets for these options. */
function serveArguments(o) {
  const args = ['serve', '--addr', `${o.host || '127.0.0.1'}:${o.port || 0}`, '--stop-with-stdin'];
  if (o.fixture !== undefined) args.push('--fixture', String(o.fixture));
  if (o.seed !== undefined) args.push('--seed', String(o.seed));
  if (o.spec !== undefined) args.push('--spec', String(o.spec));
  if (o.strict) args.push('--strict');
  return args.concat(o.args || []);
}

/**
 * Starts the mock on a free port (or `options.port`), waits until it answers, and
 * returns a handle to drive and stop it. See index.d.cts for every option.
 */
async function startMock(options = {}) {
  const bin = options.binary || binaryPath();
  const env = { ...process.env, ...(options.env || {}) };
  if (options.adminToken) env.REVKEEN_MOCK_ADMIN_TOKEN = options.adminToken;
  const child = spawn(bin, serveArguments(options), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
    windowsHide: true,
  });
  const recent = [];
  const echo = options.logs === 'inherit';
  let exited = null;
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });

  const listening = new Promise((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const timer = setTimeout(
      () => reject(failure(`did not start listening within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const failure = (why) =>
      new MockError(`revkeen-mock ${why}:\n${recent.slice(-20).join('\n')}`, {
        logs: recent.slice(),
      });
    const read = (stream, out) => {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        if (echo) out.write(chunk);
        const lines = (partial + chunk).split('\n');
        partial = lines.pop();
        for (const line of lines) {
          recent.push(line);
          if (recent.length > KEPT_LINES) recent.shift();
          const m = LISTENING.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve({ origin: m[1], basePath: m[2] || '' });
          }
        }
      });
    };
    read(child.stdout, process.stdout);
    read(child.stderr, process.stderr);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new MockError(`revkeen-mock: cannot run ${bin}: ${e.message}`));
    });
    exit.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(failure(`exited before listening (${signal || `exit code ${code}`})`));
    });
  });

  // When this process exits without stop(), the mock goes with it: killed here on a
  // normal exit, and on any other (a signal, a crash) its standard input closes, which
  // --stop-with-stdin turns into a graceful stop.
  const onExit = () => {
    try {
      child.kill();
    } catch {}
  };
  process.on('exit', onExit);
  // A forgotten handle does not keep the test runner alive.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) s.unref?.();

  let where;
  try {
    where = await listening;
  } catch (e) {
    process.removeListener('exit', onExit);
    child.kill('SIGKILL');
    throw e;
  }
  const { origin, basePath } = where;
  const adminUrl = `${origin}/__mock`;

  async function admin(method, path, { body, query } = {}) {
    const url = new URL(adminUrl + path);
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    const headers = { accept: 'application/json' };
    if (options.adminToken) headers.authorization = `Bearer ${options.adminToken}`;
    // Every change is sent as JSON, a body or none: the admin API refuses a change
    // without that Content-Type (a page's form cannot send one: no cross-site writes).
    if (method !== 'GET') headers['content-type'] = 'application/json';
    const res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const error = json && json.error;
      throw new MockError(
        `${method} ${url.pathname}: ${res.status} ${(error && (error.code + ': ' + error.message)) || text}`,
        { status: res.status, error },
      );
    }
    return json;
  }

  // Answers? (The listener is bound before the line is logged; one request proves it.)
  await admin('GET', '/health').catch((e) => {
    // Admin API turned off (--no-admin): the API answering is enough.
    if (!(e instanceof MockError)) throw e;
  });

  let stopping = null;
  const mock = {
    url: origin + basePath,
    origin,
    adminUrl,
    port: Number(new URL(origin).port),
    pid: child.pid,
    logs: () => recent.slice(),
    stop() {
      if (stopping) return stopping;
      process.removeListener('exit', onExit);
      stopping = (async () => {
        if (exited) return;
        child.kill('SIGTERM');
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), options.stopTimeoutMs ?? 5_000);
        await exit;
        clearTimeout(timer);
      })();
      return stopping;
    },
    reset: (opts = {}) => admin('POST', '/reset', { query: { key: opts.key } }).then(() => undefined),
    loadFixture: (name) =>
      admin('POST', `/fixtures/${encodeURIComponent(name)}`).then(() => undefined),
    clock: {
      get: () => admin('GET', '/clock'),
      set: (now) => admin('PUT', '/clock', { body: { now: now instanceof Date ? now.toISOString() : now } }),
      advance: (seconds) => admin('POST', '/clock/advance', { body: { seconds } }),
      freeze: () => admin('POST', '/clock/freeze'),
      resume: () => admin('POST', '/clock/resume'),
    },
    faults: {
      add: (rules) =>
        admin('POST', '/faults', { body: { rules: Array.isArray(rules) ? rules : [rules] } }).then(
          (r) => r.rules,
        ),
      list: () => admin('GET', '/faults').then((r) => r.rules),
      remove: (id) => admin('DELETE', `/faults/${encodeURIComponent(id)}`).then(() => undefined),
      clear: () => admin('DELETE', '/faults').then(() => undefined),
    },
    requests: {
      count: (matcher = {}) => admin('POST', '/requests/count', { body: matcher }).then((r) => r.count),
      list: (filter = {}) => admin('GET', '/requests', { query: filter }).then((r) => r.data),
      clear: () => admin('DELETE', '/requests').then(() => undefined),
    },
    coverage: (key, run) => admin('GET', '/coverage', { query: { key, run } }),
  };
  return mock;
}

module.exports = { startMock, MockError, binaryPath, serveArguments };
