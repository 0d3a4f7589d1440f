// GraphiQL at GET /graphql/ (templates/graphiql.html), built from npm into dist/graphiql/ so
// it needs nothing beyond our server: the editor's workers and fonts are in the bundle.
// Queries and mutations are POSTed with the session cookie and X-CSRFToken, like the page's;
// subscriptions run over graphql-ws with the same session; the Files panel turns an
// operation with bound files into a multipart upload.
import "graphiql/setup-workers/vite";
import "graphiql/style.css";
import "@graphiql/plugin-explorer/style.css";
import "./graphiql.css";

import { explorerPlugin } from "@graphiql/plugin-explorer";
import { createGraphiQLFetcher, type Fetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { createClient } from "graphql-ws";
import { createRoot } from "react-dom/client";

import { csrfToken } from "../api";
import { currentBindings, filesPlugin } from "./files";
import { bindingsUsed, multipartBody } from "./multipart";

const root = document.getElementById("graphiql") as HTMLElement;
const url = root.dataset.url ?? "/graphql/";

/** fetch with the CSRF header the endpoint asks of session (cookie) requests. */
function fetchWithCsrf(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("X-CSRFToken", csrfToken());
  return fetch(input, { ...init, headers, credentials: "same-origin" });
}

const jsonFetcher = createGraphiQLFetcher({
  url,
  fetch: fetchWithCsrf,
  wsClient: createClient({
    url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${url}`,
  }),
});

async function uploadFetch(body: FormData, headers: Record<string, string> = {}) {
  const response = await fetchWithCsrf(url, { method: "POST", headers, body });
  try {
    return await response.json();
  } catch {
    return { errors: [{ message: `The server answered ${response.status}.` }] };
  }
}

const fetcher: Fetcher = (params, options) => {
  const files = bindingsUsed(params, currentBindings());
  if (files.length === 0) return jsonFetcher(params, options);
  const { "Content-Type": _, "content-type": __, ...headers } = options?.headers ?? {};
  return uploadFetch(multipartBody(params, files), headers);
};

const DEFAULT_QUERY = `# Runs as the user logged in at /accounts/login/ (or with a bearer token set in Headers).
# Your files, newest first. Subscriptions run here too:
#   subscription { fileUpdates { id name status progress } }
# To upload: open "Files" (the paperclip on the left), pick a file for the variable \`file\`,
# then run:
#   mutation Upload($file: Upload!) { uploadFile(file: $file) { id name status } }
query Files {
  files(first: 10) {
    totalCount
    edges { node { id name size status } }
  }
}
`;

createRoot(root).render(
  <GraphiQL
    fetcher={fetcher}
    plugins={[explorerPlugin(), filesPlugin]}
    defaultQuery={DEFAULT_QUERY}
  />,
);
