// Playwright as a frontend project configures it: the mock starts once in globalSetup
// (startMock from the installed package) and stops in the teardown it returns; tests
// get its URLs from the environment. Debian's chromium stands in for Playwright's own
// browser download (CHROMIUM overrides the path).
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testMatch: /.*\.spec\.mjs/,
  globalSetup: './global-setup.mjs',
  reporter: 'list',
  workers: 1,
  use: {
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    },
  },
});
