// Playwright's globalSetup: one mock for the whole run; the function returned is the
// teardown.
import { startMock } from 'revkeen-mock';

export default async function globalSetup() {
  const mock = await startMock({ fixture: 'default', seed: 7 });
  process.env.MOCK_URL = mock.url;
  process.env.MOCK_ADMIN_URL = mock.adminUrl;
  return async () => {
    await mock.stop();
  };
}
