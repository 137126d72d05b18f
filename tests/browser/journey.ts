// A journey through a client generated from specs/revkeen-integrations.yaml by
// openapi-typescript, called with openapi-fetch: proves the spec works with the tools
// frontend teams already use. Type-checked by tsc, then run under Node.
import createClient from "openapi-fetch";
import type { paths } from "./generated/schema.js";

const baseUrl = (process.env.MOCK_URL ?? "http://127.0.0.1:4041") + "/v2";
const client = createClient<paths>({ baseUrl, headers: { "x-api-key": "rk_sandbox_typescript_client_01" } });
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

const deactivated = await client.POST("/integrations/{provider}/deactivate", { ...provider, body: { deleteCredentials: true } });
check(deactivated.data?.success === true, "deactivate");

const after = await client.GET("/integrations/{provider}", provider);
check(after.data?.data?.isActive === false, "it reads as inactive");
console.log("typescript client: journey passed");
