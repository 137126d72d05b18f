#!/usr/bin/env node
'use strict';
// The `revkeen-mock` command: runs the prebuilt binary of this platform's package with
// the same arguments, standard streams and environment, and exits as it exits. Signals
// sent to this process (a test runner's SIGTERM, Ctrl-C) are passed on, so the mock
// stops gracefully (and a SQLite state file is kept) instead of being left running.
const { binaryPath } = require('../lib/platform.cjs');

let bin;
try {
  bin = binaryPath();
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
}
const child = require('child_process').spawn(bin, process.argv.slice(2), {
  stdio: 'inherit',
  windowsHide: true,
});
const forward = (signal) => {
  try {
    child.kill(signal);
  } catch {}
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
// Orphaned (whoever started this launcher ended without passing a signal on: `npx`
// runs it through `sh -c`, which dies of SIGTERM without a word to its child): stop the
// mock rather than leave it serving with nobody to stop it.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) forward('SIGTERM');
}, 500).unref();
child.on('error', (e) => {
  process.stderr.write(`revkeen-mock: cannot run ${bin}: ${e.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    // Ended by a signal: end the same way, so a caller sees what happened.
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeListener(s, forward);
    process.kill(process.pid, signal);
  } else {
    process.exit(code === null ? 1 : code);
  }
});
