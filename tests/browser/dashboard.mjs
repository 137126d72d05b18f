// The dashboard in a real browser (Debian's chromium driven by playwright-core), and a
// page on another origin calling the API with fetch, to prove CORS works for a browser
// app. Run by scripts/browser-test, which starts the mock at MOCK_URL.
import { chromium } from "playwright-core";
import http from "node:http";
import assert from "node:assert/strict";

const MOCK = process.env.MOCK_URL ?? "http://127.0.0.1:4041";
const OUT = process.env.SCREENSHOTS ?? "../../target";
const KEY = "rk_sandbox_demo_merchant_key_01";
const PARTNER = "rk_sandbox_partner_alpha_0001";
const PARTNER_APP = "rk_sandbox_partner_app_key_0001";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const failures = [];
async function step(name, fn) {
  try { await fn(); console.log("ok   " + name); }
  catch (e) { failures.push(name); console.log("FAIL " + name + ": " + e.message); }
}

const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const field = (provider, name) => page.locator(`.card[data-provider="${provider}"] dd[data-field="${name}"]`);

await step("the dashboard shows the default fixture", async () => {
  await page.goto(MOCK + "/__mock/ui");
  await field("practicehub", "health").waitFor();
  assert.equal(await page.locator("#tenant").inputValue(), KEY);
  // People see the key as its last four characters.
  assert.equal(await page.locator("#tenant option:checked").textContent(), "…" + KEY.slice(-4));
  assert.equal(await field("practicehub", "active").textContent(), "yes");
  assert.equal(await field("practicehub", "health").textContent(), "healthy");
  assert.equal(await field("terminal", "active").textContent(), "no");
  assert.equal(await page.locator('.card[data-provider="wodify"]').count(), 0);
});

await step("advancing the clock runs the next scheduled sync", async () => {
  const before = await field("practicehub", "last-sync").textContent();
  // The next run is up to one interval (15 minutes) away: five minutes at a time.
  // The simulated clock runs with the wall clock, so the once-a-second refresh changes its
  // text too: wait for a clock five minutes on, which only a refresh that read the
  // world after the advance can show (it reads the clock before the cards).
  const shown = () => Date.parse(/simulated now (\S+)/.exec(document.querySelector("#clock").textContent)[1]);
  for (let n = 0; n < 4; n++) {
    const nextRun = await field("practicehub", "next-run").textContent();
    const clock = await page.evaluate(shown);
    await page.click("#advance5");
    await page.waitForFunction(`(${shown})() >= ${clock + 300_000}`, null, { timeout: 10000 });
    const after = await field("practicehub", "last-sync").textContent();
    if (after !== before) {
      assert.equal(after, nextRun, "the sync ran at the nextRun shown before");
      return;
    }
  }
  throw new Error("no scheduled sync ran in 20 simulated minutes");
});

await step("an outage opens the breaker", async () => {
  await page.selectOption("#outageProvider", "practicehub");
  await page.click("#outage");
  await page.waitForFunction(() => document.querySelector("#message").textContent.startsWith("outage started"));
  // Scheduled syncs every 15 minutes: two hours bring the five failures that open it.
  await page.click("#advance1h");
  await page.waitForFunction(() => document.querySelector("#message").textContent === "clock advanced");
  await page.click("#advance1h");
  await page.waitForFunction(
    () => document.querySelector('.card[data-provider="practicehub"] dd[data-field="breaker"]').textContent === "open",
    null, { timeout: 10000 });
  assert.equal(await field("practicehub", "health").textContent(), "paused");
  assert.equal(await field("practicehub", "errors").textContent(), "5");
});

const runs = (provider) => page.locator(`.card[data-provider="${provider}"] .runs li`);
const message = (prefix) => page.waitForFunction(
  (p) => document.querySelector("#message").textContent.startsWith(p), prefix, { timeout: 10000 });

await step("the timeline shows the failed runs; a retry behind the open breaker is refused", async () => {
  await runs("practicehub").first().waitFor();
  assert.equal(await runs("practicehub").first().getAttribute("data-status"), "failed");
  const failed = await page.locator('.card[data-provider="practicehub"] .runs li[data-status="failed"]').count();
  assert.ok(failed >= 5, `${failed} failed runs shown`);
  assert.match(await runs("practicehub").first().getAttribute("title"), /patients: failed \(practicehub is unavailable/);
  await page.click('.card[data-provider="practicehub"] .runs li button[data-action="retry"] >> nth=0');
  await message("Syncing practicehub is auto-paused");
});

await step("resume sync closes the breaker with a successful trial run", async () => {
  await page.click('.card[data-provider="practicehub"] button[data-action="resume"]');
  await message("breaker reset");
  await page.waitForFunction(
    () => document.querySelector('.card[data-provider="practicehub"] dd[data-field="health"]').textContent === "healthy",
    null, { timeout: 10000 });
  assert.equal(await runs("practicehub").first().getAttribute("data-status"), "success");
  assert.equal(await runs("practicehub").first().getAttribute("data-job-type"), "manual");
  // The trial covered the failures: nothing left to retry.
  assert.equal(await page.locator('.card[data-provider="practicehub"] button[data-action="retry"]').count(), 0);
});

await step("a failed manual sync is retried from the timeline once the provider is back", async () => {
  await page.click("#outage");
  await message("outage started");
  await page.click('.card[data-provider="practicehub"] button[data-action="sync"]');
  await message("sync started");
  await page.waitForFunction(
    () => document.querySelector('.card[data-provider="practicehub"] .runs li')?.dataset.status === "failed",
    null, { timeout: 10000 });
  await page.click("#clearFaults");
  await message("faults and outages cleared");
  await page.click('.card[data-provider="practicehub"] .runs li button[data-action="retry"] >> nth=0');
  await message("retried 4 entries");
  await page.waitForFunction(
    () => document.querySelector('.card[data-provider="practicehub"] .runs li')?.dataset.jobType === "single_retry",
    null, { timeout: 10000 });
  assert.equal(await page.locator('.card[data-provider="practicehub"] button[data-action="retry"]').count(), 0);
  assert.equal(await field("practicehub", "health").textContent(), "healthy");
});

await step("the layout is usable at 1280 px and at 400 px", async () => {
  await page.screenshot({ path: `${OUT}/dashboard-1280.png`, fullPage: true });
  await page.setViewportSize({ width: 400, height: 900 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a 400px screen`);
  assert.ok(await page.locator("#advance5").isVisible());
  await page.screenshot({ path: `${OUT}/dashboard-400.png`, fullPage: true });
});

await step("a half-mapped catalog shows its mappings and unmapped packages", async () => {
  await page.selectOption("#fixture", "mappings");
  await page.click("#loadFixture");
  await message("fixture loaded");
  await page.selectOption("#tenant", "rk_sandbox_mappings_key_0001");
  const section = page.locator('.card[data-provider="practicehub"] details.catalog');
  await section.locator("summary").click();
  const row = (id) => section.locator(`tr[data-id="${id}"]`);
  await row("pkg_consult").waitFor({ timeout: 10000 });
  assert.match(await row("pkg_consult").textContent(), /Initial Consultation.*85.*Initial Consultation/);
  assert.match(await row("pkg_wellness").textContent(), /Monthly Wellness Plan.*3×/);
  assert.equal(await row("pkg_wellness").getAttribute("class"), "unmapped");
  assert.match(await row("pkg_legacy").textContent(), /retired/);
  assert.match(await row("item_insoles").textContent(), /Orthotic Insoles/);
  assert.match(await row("102").textContent(), /Card.*yes.*card/);
  // The section stays open across the dashboard's refreshes.
  await page.waitForTimeout(1500);
  assert.equal(await section.getAttribute("open"), "");
  await page.screenshot({ path: `${OUT}/dashboard-catalog.png`, fullPage: true });
  await page.selectOption("#fixture", "default");
  await page.click("#loadFixture");
  await message("fixture loaded");
  await page.selectOption("#tenant", KEY);
});

await step("clear faults and reset go back to the fixture", async () => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.click("#clearFaults");
  await page.click("#reset");
  await page.waitForFunction(
    () => document.querySelector('.card[data-provider="practicehub"] dd[data-field="breaker"]')?.textContent === "closed",
    null, { timeout: 10000 });
});

// A browser app on another origin (a dev server on port 5173).
const app = http.createServer((req, res) => {
  res.setHeader("content-type", "text/html");
  if (req.url === "/self") {
    // A partner's own web app driving its merchant's clock through self-service.
    res.end(`<!doctype html><pre id="result">pending</pre><script>
      fetch(${JSON.stringify(MOCK)} + "/__mock/self/clock/advance", { method: "POST",
        headers: { "x-api-key": ${JSON.stringify(PARTNER_APP)}, "content-type": "application/json" },
        body: JSON.stringify({ seconds: 600 }) })
        .then(async (r) => { document.getElementById("result").textContent = JSON.stringify({ status: r.status, ...(await r.json()) }); })
        .catch((e) => { document.getElementById("result").textContent = "error: " + e; });
    </script>`);
    return;
  }
  if (req.url === "/admin") {
    // The same page, trying the admin API: read the state (every key and credential),
    // a JSON write (needs a pre-flight), a "simple" text/plain write (sent without one),
    // and two forms (a reset without a body, a fixture load with a text/plain body).
    res.end(`<!doctype html><pre id="result">pending</pre><script>
      const mock = ${JSON.stringify(MOCK)};
      const outcome = (p) => p.then((r) => "answered " + r.status, (e) => "blocked");
      Promise.all([
        outcome(fetch(mock + "/__mock/state")),
        outcome(fetch(mock + "/__mock/clock/advance", { method: "POST",
          headers: { "content-type": "application/json" }, body: JSON.stringify({ seconds: 86400 }) })),
        fetch(mock + "/__mock/clock/advance", { method: "POST", mode: "no-cors",
          headers: { "content-type": "text/plain" }, body: JSON.stringify({ seconds: 86400 }) })
          .then(() => "sent", () => "blocked"),
      ]).then(([read, jsonWrite, plainWrite]) => {
        document.getElementById("result").textContent = JSON.stringify({ read, jsonWrite, plainWrite });
      });
    </script>
    <iframe name="sink" style="display:none"></iframe>
    <form id="reset" method="POST" target="sink" action="${MOCK}/__mock/reset"></form>
    <form id="fixture" method="POST" target="sink" enctype="text/plain" action="${MOCK}/__mock/fixtures/partners">
      <input name='{"a":"' value='"}'></form>
    <script>document.getElementById("reset").submit(); document.getElementById("fixture").submit();</script>`);
    return;
  }
  res.end(`<!doctype html><pre id="result">pending</pre><script>
    fetch(${JSON.stringify(MOCK + "/v2/integrations")}, { headers: { "x-api-key": ${JSON.stringify(KEY)} } })
      .then(async (r) => {
        const body = await r.json();
        document.getElementById("result").textContent = JSON.stringify({
          status: r.status, requestId: r.headers.get("X-Request-Id"), version: r.headers.get("RevKeen-Version"),
          providers: body.data.map((i) => i.provider) });
      })
      .catch((e) => { document.getElementById("result").textContent = "error: " + e; });
  </script>`);
});
await new Promise((r) => app.listen(5173, "127.0.0.1", r));

await step("a page on another origin calls the API with fetch and reads X-Request-Id", async () => {
  const other = await browser.newPage();
  await other.goto("http://127.0.0.1:5173/");
  await other.waitForFunction(() => document.getElementById("result").textContent !== "pending");
  const text = await other.locator("#result").textContent();
  assert.ok(!text.startsWith("error"), text);
  const result = JSON.parse(text);
  assert.equal(result.status, 200);
  assert.match(result.requestId ?? "", /^[0-9a-f-]{36}$/);
  assert.equal(result.version, "2026-05-01");
  assert.deepEqual(result.providers, ["practicehub", "terminal"]);
});

await step("a page on another origin can neither read nor change the admin API", async () => {
  const clock = async () => (await (await fetch(MOCK + "/__mock/clock")).json()).now;
  const before = await clock();
  // A mark a reset or another fixture would wipe out: wodify, active for the demo key.
  const wodify = async () => (await (await fetch(MOCK + "/v2/integrations/wodify", { headers: { "x-api-key": KEY } })).json()).data;
  await fetch(MOCK + "/v2/integrations/wodify/activate", { method: "POST",
    headers: { "x-api-key": KEY, "content-type": "application/json" },
    body: JSON.stringify({ credentials: { apiKey: "wd_browser_mark", baseUrl: "https://gym.example" } }) });
  assert.equal((await wodify())?.isActive, true);
  const other = await browser.newPage();
  await other.goto("http://127.0.0.1:5173/admin");
  await other.waitForFunction(() => document.getElementById("result").textContent !== "pending");
  const result = JSON.parse(await other.locator("#result").textContent());
  assert.equal(result.read, "blocked", "the state must not be readable");
  assert.equal(result.jsonWrite, "blocked", "the pre-flight must not grant a JSON write");
  // The text/plain write reaches the mock (a browser sends it without asking), which
  // refuses it (415): the clock has not moved.
  const after = await clock();
  assert.equal(Date.parse(after) - Date.parse(before) < 86400 * 1000, true, `clock moved: ${before} -> ${after}`);
  // The forms (a plain POST to reset, a text/plain POST loading a fixture) reached the
  // mock and were refused: the mark is still there.
  await other.waitForTimeout(300);
  assert.equal((await wodify())?.isActive, true, "a form from another site reset the mock");
  await other.close();
});

await step("the request journal updates live with the other page's call", async () => {
  await page.waitForFunction(
    () => [...document.querySelectorAll("#journal td.path")].some((td) => td.textContent === "/v2/integrations"),
    null, { timeout: 10000 });
});

// Partner mode: the same page at /__mock/self/ui, with a partner's key and no token.
const selfClock = async (key) =>
  (await (await fetch(MOCK + "/__mock/self/clock", { headers: { "x-api-key": key } })).json());

await step("partner mode shows and drives only the partner's merchant, with its key", async () => {
  await fetch(MOCK + "/v2/integrations/wodify/activate", { method: "POST",
    headers: { "x-api-key": PARTNER, "content-type": "application/json" },
    body: JSON.stringify({ credentials: { apiKey: "wd_partner", baseUrl: "https://gym.example" } }) });
  const sandboxBefore = (await (await fetch(MOCK + "/__mock/clock")).json()).now;
  const demoBefore = await selfClock(KEY);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p = await context.newPage();
  await p.goto(MOCK + "/__mock/self/ui#key=" + PARTNER);
  const pfield = (provider, name) => p.locator(`.card[data-provider="${provider}"] dd[data-field="${name}"]`);
  await pfield("wodify", "health").waitFor({ timeout: 10000 });
  assert.ok(!p.url().includes(PARTNER), "the key is taken out of the address bar");
  assert.equal(await p.locator("#tenant").isVisible(), false, "no tenant to choose");
  assert.match(await p.locator("#merchant").textContent(), /key …0001 · merchant [0-9a-f-]{36}/);
  assert.equal(await p.locator('.card[data-provider="practicehub"]').count(), 0, "the demo merchant is not shown");
  assert.match(await p.locator("#clock").textContent(), / 0 s ahead/);
  // An outage and two hours of the partner's own time open its breaker.
  await p.selectOption("#outageProvider", "wodify");
  await p.click("#outage");
  await p.waitForFunction(() => document.querySelector("#message").textContent.startsWith("outage started"));
  await p.click("#advance1h");
  await p.waitForFunction(() => / 3600 s ahead/.test(document.querySelector("#clock").textContent), null, { timeout: 10000 });
  await p.click("#advance1h");
  await p.waitForFunction(
    () => document.querySelector('.card[data-provider="wodify"] dd[data-field="breaker"]')?.textContent === "open",
    null, { timeout: 10000 });
  assert.match(await p.locator("#clock").textContent(), / 7200 s ahead/);
  assert.equal(await p.locator('.card[data-provider="wodify"] .runs li[data-status="failed"]').count() >= 5, true);
  // Resume through the API with the partner's key: a trial sync closes it.
  await p.click("#clearFaults");
  await p.waitForFunction(() => document.querySelector("#message").textContent.startsWith("faults and outages cleared"));
  await p.click('.card[data-provider="wodify"] button[data-action="resume"]');
  await p.waitForFunction(
    () => document.querySelector('.card[data-provider="wodify"] dd[data-field="breaker"]')?.textContent === "closed",
    null, { timeout: 10000 });
  // Its own requests only.
  await p.waitForFunction(
    () => [...document.querySelectorAll("#journal td.path")].some((td) => td.textContent === "/v2/integrations/wodify/resume-sync"),
    null, { timeout: 10000 });
  const paths = await p.locator("#journal td.path").allTextContents();
  assert.ok(paths.every((x) => x.startsWith("/v2/integrations/wodify")), paths.join(", "));
  // Coverage: the default run met the activation's states; a run named by the
  // X-Mock-Run header appears in the run list and shows its own.
  await p.waitForFunction(
    () => document.querySelector('#coverageStates li[data-name="integration.status.connected"]')?.className === "met",
    null, { timeout: 10000 });
  assert.match(await p.locator("#coverageSummary").textContent(), /documented statuses met/);
  await fetch(MOCK + "/v2/integrations/wodify", { headers: { "x-api-key": PARTNER, "x-mock-run": "browser-run" } });
  await p.waitForFunction(() => [...document.querySelectorAll("#run option")].some((o) => o.value === "browser-run"),
    null, { timeout: 10000 });
  await p.selectOption("#run", "browser-run");
  await p.waitForFunction(
    () => document.querySelector("#coverageSummary").textContent.startsWith("1 of"), null, { timeout: 10000 });
  assert.equal(await p.locator('#coverageStates li[data-name="breaker.closed"]').getAttribute("class"), "met");
  assert.equal(await p.locator('#coverageStates li[data-name="breaker.open"]').getAttribute("class"), null);
  await p.screenshot({ path: `${OUT}/dashboard-partner.png`, fullPage: true });
  // Nobody else moved: the sandbox's clock and the demo merchant's.
  const sandboxAfter = (await (await fetch(MOCK + "/__mock/clock")).json()).now;
  assert.ok(Date.parse(sandboxAfter) - Date.parse(sandboxBefore) < 60 * 1000, `${sandboxBefore} -> ${sandboxAfter}`);
  assert.equal((await selfClock(KEY)).aheadSeconds, demoBefore.aheadSeconds);
  assert.equal((await selfClock(PARTNER)).aheadSeconds, 7200);
  // Its reset empties its merchant (the fixture does not name its key), its clock kept.
  await p.click("#reset");
  await p.waitForFunction(() => document.querySelector("#message").textContent === "your merchant reset");
  await p.waitForFunction(() => document.querySelectorAll(".card").length === 0, null, { timeout: 10000 });
  assert.equal((await selfClock(PARTNER)).aheadSeconds, 7200);
  await context.close();
});

await step("a partner's own web app on another origin drives its merchant's clock", async () => {
  const other = await browser.newPage();
  await other.goto("http://127.0.0.1:5173/self");
  await other.waitForFunction(() => document.getElementById("result").textContent !== "pending");
  const text = await other.locator("#result").textContent();
  assert.ok(!text.startsWith("error"), text);
  const result = JSON.parse(text);
  assert.equal(result.status, 200);
  assert.equal(result.aheadSeconds, 600);
  await other.close();
});

app.close();
await browser.close();
if (failures.length) {
  console.log(`${failures.length} browser check(s) failed`);
  process.exit(1);
}
console.log("browser: every check passed; screenshots in " + OUT);
