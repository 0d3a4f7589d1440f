// graphql-http's server audit (frontend/node_modules, pinned in frontend/package.json) against
// a running endpoint: every audit of the GraphQL-over-HTTP spec, each request sent with the
// API token (the endpoint answers nobody anonymous). Prints one JSON line per audit:
// {"id", "name", "status": "ok" | "warn" | "error", "reason"}.
//   GRAPHQL_TOKEN=… node tests/api/graphql_http_audit.mjs <endpoint URL>
import { createRequire } from "node:module";

const require = createRequire(new URL("../../frontend/package.json", import.meta.url));
const { serverAudits } = require("graphql-http");

const [url] = process.argv.slice(2);
const authorization = `Bearer ${process.env.GRAPHQL_TOKEN}`;

function fetchWithToken(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", authorization);
  return fetch(input, { ...init, headers });
}

for (const audit of serverAudits({ url, fetchFn: fetchWithToken })) {
  const result = await audit.fn();
  const reason = result.status === "ok" ? "" : result.reason;
  console.log(JSON.stringify({ id: audit.id, name: audit.name, status: result.status, reason }));
}
