// A journey through a client generated from specs/revkeen-integrations.yaml by
// openapi-typescript, called with openapi-fetch: proves the spec works with the tools
// frontend teams already use. Type-checked by tsc, then run under Node.
import createClient from "openapi-fetch";
import type { paths } from "./generated/schema.js";

const baseUrl = (process.env.MOCK_URL ?? "http://127.0.0.1:4041") + "/v2";
const KEY = "rk_sandbox_typescript_client_01";
// The journey's run: coverage counts its requests apart (X-Mock-Run).
const RUN = "ts-journey";
const client = createClient<paths>({ baseUrl, headers: { "x-api-key": KEY, "x-mock-run": RUN } });
const provider = { params: { path: { provider: "wodify" as const } } };

function check(condition: boolean, what: string): void {
  if (!condition) {
    throw new Error("journey failed: " + what);
  }
  console.log("ok   " + what);
}

const activated = await client.POST("/integrations/{provider}/activate", {
  ...provider,
  body: { credentials: { apiKey: "ts_client_key", baseUrl: "https://gym.wodify.example" }, syncIntervalMinutes: 30 },
});
check(activated.response.status === 200 && activated.data?.data.isActive === true, "activate wodify");

const status = await client.GET("/integrations/{provider}", provider);
check(status.data?.data?.syncInterval?.intervalMs === 1_800_000, "the status snapshot shows a 30-minute interval");

const list = await client.GET("/integrations", { params: { query: { limit: 10 } } });
check(list.data?.data.length === 1 && list.data.pagination?.total === 1, "the list has it");

const toggled = await client.PUT("/integrations/{provider}/sync-toggle", { ...provider, body: { enabled: false } });
check(toggled.data?.success === true, "turn automatic sync off");

const bad = await client.PUT("/integrations/{provider}/sync-interval", { ...provider, body: { syncIntervalMinutes: 3 } });
check(bad.response.status === 400 && bad.error?.error.param === "syncIntervalMinutes", "a 3-minute interval is refused, naming the field");

// The sync history: a provider that fails its first sync, the failure listed, retried.
const ph = { params: { path: { provider: "practicehub" as const } } };
await client.POST("/integrations/{provider}/activate", {
  ...ph,
  body: { credentials: { apiKey: "fail_first_1_ts_client", baseUrl: "https://clinic.practicehub.example" } },
});
const synced = await client.POST("/integrations/{provider}/sync", { ...ph, body: {} });
check(synced.response.status === 200, "a manual sync runs (and fails at the provider)");
const failed = await client.GET("/integrations/{provider}/sync-logs", {
  params: { path: { provider: "practicehub" }, query: { status: "failed", limit: 10 } },
});
const entries = failed.data?.data ?? [];
check(entries.length === 4 && entries.every((e) => e.retryable === true && e.jobId === synced.data?.jobId),
  "the sync log lists the run's four failed entries, retryable");
const logId = entries[0]?.id ?? "";
const retried = await client.POST("/integrations/{provider}/sync-logs/{logId}/retry", {
  params: { path: { provider: "practicehub", logId } },
});
check(retried.data?.data?.status === "success" && retried.data.data.retryOf === logId, "retry one entry: it succeeds");
const again = await client.POST("/integrations/{provider}/sync-logs/{logId}/retry", {
  params: { path: { provider: "practicehub", logId } },
});
check(again.response.status === 400 && again.error?.error.code === "not_retryable", "a second retry is refused");
const latest = await client.GET("/integrations/{provider}/sync-logs", {
  params: { path: { provider: "practicehub" }, query: { latestOnly: "true" } },
});
check(latest.data?.data[0]?.jobType === "single_retry" && latest.data.pagination?.total === 4,
  "the newest entry per resource type: the retry first");

// The setup wizard: map two of the provider's packages, then read the mappings back.
const packages = await client.GET("/integrations/{provider}/packages", provider);
const two = (packages.data?.data ?? []).slice(0, 2).map((p) => String(p.id));
check(two.length === 2, "the provider's catalog lists packages");
const mapped = await client.PUT("/integrations/{provider}/product-mappings", {
  ...provider,
  body: { mappings: two.map((externalId, k) => ({ externalId, internalId: `prod_ts_${k}` })) },
});
check(mapped.data?.count === 2, "map two packages: the answer counts two");
const readBack = await client.GET("/integrations/{provider}/product-mappings", provider);
const listed = (readBack.data?.data ?? []).map((m) => m.externalId);
check(listed.length === 2 && listed.every((id, k) => id === two[k]) && readBack.data?.data[0]?.externalName != null,
  "the mappings read back, named from the catalog");

const deactivated = await client.POST("/integrations/{provider}/deactivate", { ...provider, body: { deleteCredentials: true } });
check(deactivated.data?.success === true, "deactivate");

const after = await client.GET("/integrations/{provider}", provider);
check(after.data?.data?.isActive === false, "it reads as inactive");
// What the journey met, as the mock counted it: exactly these, and nothing else.
const coverage = await (await fetch(baseUrl.replace(/\/v2$/, "") + "/__mock/self/coverage?run=" + RUN,
  { headers: { "x-api-key": KEY } })).json();
const met = coverage.operations.flatMap((o: { operationId: string; statuses: { status: number; met: boolean; natural: number }[] }) =>
  o.statuses.filter((s) => s.met).map((s) => `${o.operationId}:${s.status}x${s.natural}`)).sort();
const named = (kind: "states" | "errors") =>
  coverage[kind].filter((s: { met: boolean }) => s.met).map((s: { name: string }) => s.name).sort();
const same = (got: string[], want: string[]) => JSON.stringify(got) === JSON.stringify([...want].sort());
check(same(met, [
  "activateIntegration:200x2", "getIntegration:200x2", "listIntegrations:200x1", "toggleIntegrationSync:200x1",
  "updateIntegrationSyncInterval:400x1", "triggerIntegrationSync:200x1", "listIntegrationSyncLogs:200x2",
  "retryIntegrationSyncLog:200x1", "retryIntegrationSyncLog:400x1", "listIntegrationPackages:200x1",
  "replaceIntegrationProductMappings:200x1", "listIntegrationProductMappings:200x1", "deactivateIntegration:200x1",
]), "coverage lists exactly the operations and statuses the journey met: " + met.join(" "));
check(same(named("states"), [
  "integration.status.connected", "integration.status.idle", "integration.syncEnabled.false", "syncHealth.healthy",
  "syncHealth.paused", "breaker.closed", "syncLog.failed.retryable", "syncLog.success",
]), "and exactly the states its answers showed: " + named("states").join(" "));
check(same(named("errors"), ["400/422.validation"]), "and its one error class");
check(coverage.gaps.some((g: { item: string; hint: string }) => g.item === "breaker.open" && g.hint.includes("breaker-open")),
  "a gap it did not meet comes with how to stage it");
console.log("typescript client: journey passed");
