'use strict';
// Which platform package carries the binary for this machine, and where the binary is.
// Shared by the launcher (bin/revkeen-mock.cjs) and startMock (lib/index.cjs). Kept
// small and synchronous: the launcher runs it before every command.

/** The platform packages, by `${process.platform}-${process.arch}` (and libc on Linux). */
const PACKAGES = {
  'linux-x64-gnu': 'revkeen-mock-linux-x64-gnu',
  'linux-arm64-gnu': 'revkeen-mock-linux-arm64-gnu',
  'linux-x64-musl': 'revkeen-mock-linux-x64-musl',
  'darwin-x64': 'revkeen-mock-darwin-x64',
  'darwin-arm64': 'revkeen-mock-darwin-arm64',
  'win32-x64': 'revkeen-mock-win32-x64',
};

/** Whether this Linux uses musl rather than glibc: `ldd` names its libc (the check
 * detect-libc makes first); only when it does not, Node's own report says whether it
 * runs on glibc (a report takes about 8 ms, most of the launcher's own time). */
function isMusl() {
  let ldd = '';
  try {
    ldd = require('fs').readFileSync('/usr/bin/ldd', 'latin1');
  } catch {}
  if (ldd.includes('musl')) return true;
  if (ldd.includes('GNU C Library') || ldd.includes('GLIBC')) return false;
  try {
    const header = process.report && process.report.getReport().header;
    return !!header && !header.glibcVersionRuntime;
  } catch {
    return false;
  }
}

/** This machine's platform name (a key of PACKAGES, or a name no package carries). */
function platformName() {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') return base;
  return `${base}-${isMusl() ? 'musl' : 'gnu'}`;
}

/**
 * The binary to run: REVKEEN_MOCK_BINARY when set, else the one in this platform's
 * package. Throws an Error whose message says what to do when there is none.
 */
function binaryPath() {
  const override = process.env.REVKEEN_MOCK_BINARY;
  if (override) return override;
  const name = platformName();
  const pkg = PACKAGES[name];
  const exe = process.platform === 'win32' ? 'revkeen-mock.exe' : 'revkeen-mock';
  if (pkg) {
    try {
      return require.resolve(`${pkg}/bin/${exe}`);
    } catch {}
  }
  const why = pkg
    ? `its package ${pkg} is not installed (installed with --no-optional or --omit=optional, ` +
      `or from a lockfile made on another platform: reinstall without those)`
    : `no prebuilt binary is published for this platform (packages exist for ${Object.keys(PACKAGES).join(', ')})`;
  throw new Error(
    `revkeen-mock: no binary for ${name}: ${why}.\n` +
      'Other ways to run the mock:\n' +
      '  - the container image: docker run --rm -p 4010:4010 revkeen-mock (see the README)\n' +
      '  - cargo, in a checkout of the repository: cargo install --locked --path .\n' +
      '  - a binary you built: set REVKEEN_MOCK_BINARY=/path/to/revkeen-mock',
  );
}

module.exports = { PACKAGES, platformName, binaryPath };
