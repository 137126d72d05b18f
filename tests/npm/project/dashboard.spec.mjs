// The dashboard of the mock globalSetup started, driven like a user would.
import { test, expect } from '@playwright/test';

const KEY = 'rk_sandbox_demo_merchant_key_01';
const card = (page, provider, field) =>
  page.locator(`.card[data-provider="${provider}"] dd[data-field="${field}"]`);

test('the dashboard shows the fixture, and an outage opens the breaker', async ({ page, request }) => {
  await page.goto(`${process.env.MOCK_ADMIN_URL}/ui`);
  await expect(card(page, 'practicehub', 'health')).toHaveText('healthy');
  await expect(page.locator('#tenant')).toHaveValue(KEY);

  await page.selectOption('#outageProvider', 'practicehub');
  await page.click('#outage');
  await expect(page.locator('#message')).toContainText('outage started');
  // Scheduled syncs every 15 minutes: two simulated hours bring the five failures.
  await page.click('#advance1h');
  await expect(page.locator('#message')).toHaveText('clock advanced');
  await page.click('#advance1h');
  await expect(card(page, 'practicehub', 'breaker')).toHaveText('open');
  await expect(card(page, 'practicehub', 'health')).toHaveText('paused');

  // The API says the same.
  const res = await request.get(`${process.env.MOCK_URL}/integrations/practicehub`, {
    headers: { 'x-api-key': KEY },
  });
  expect((await res.json()).data.providerState.mode).toBe('open');
});
