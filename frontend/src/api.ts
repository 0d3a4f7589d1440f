// Talking to the server: GraphQL over fetch, uploads over XHR (for real upload progress),
// and the live subscription over graphql-ws (it reconnects by itself).
import { createClient, type Client } from "graphql-ws";

import type { GraphQLErrorLike } from "./format";
import type {
  FileUpdatesSubscription,
  TypedDocumentString,
  UploadFileMutation,
} from "./gql/graphql";
import { fileUpdatesSubscription, uploadFileMutation } from "./operations";
import type { FileRow } from "./state";

export interface GraphQLResponse<T> {
  data?: T;
  errors?: GraphQLErrorLike[];
}

export function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** One document of ./operations over fetch; its result and variables are typed by codegen. */
export async function execute<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
): Promise<GraphQLResponse<TResult>> {
  const response = await fetch("/graphql/", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  try {
    return (await response.json()) as GraphQLResponse<TResult>;
  } catch {
    return { errors: [{ message: `The server answered ${response.status}.` }] };
  }
}

export interface UploadHandlers {
  onProgress(fraction: number): void;
  onDone(file: FileRow): void;
  onError(errors: GraphQLErrorLike[] | undefined, status: number): void;
}

/** Stops an upload in flight; its handlers are not called afterwards. */
export type Cancel = () => void;

/** One GraphQL multipart request per file, so each file has its own progress and error.
 * Cancelling aborts the request: the server sees the connection drop before the body ended,
 * removes what it wrote of the file and creates no row (schema/http/endpoint.py, `ClientGone`). */
export function uploadFile(file: File, handlers: UploadHandlers): Cancel {
  const body = new FormData();
  body.append(
    "operations",
    JSON.stringify({ query: uploadFileMutation.toString(), variables: { file: null } }),
  );
  body.append("map", JSON.stringify({ "0": ["variables.file"] }));
  body.append("0", file, file.name);
  const request = new XMLHttpRequest();
  request.open("POST", "/graphql/");
  request.setRequestHeader("X-CSRFToken", csrfToken());
  request.upload.onprogress = (event) => {
    if (event.lengthComputable) handlers.onProgress(event.loaded / event.total);
  };
  request.onload = () => {
    let parsed: GraphQLResponse<UploadFileMutation> | undefined;
    try {
      parsed = JSON.parse(request.responseText);
    } catch {
      parsed = undefined;
    }
    const uploaded = parsed?.data?.uploadFile;
    if (request.status === 200 && uploaded) handlers.onDone(uploaded);
    else handlers.onError(parsed?.errors, request.status);
  };
  request.onerror = () => handlers.onError(undefined, 0);
  request.send(body);
  return () => request.abort();
}

export type LiveState = "connecting" | "live" | "reconnecting" | "logged-out" | "too-many";

/** The server closes with 4401 when the session is gone, and with 4429 when the user has
 * WEBSOCKET_MAX_CONNECTIONS_PER_USER open already: graphql-ws retries neither. */
const UNAUTHORIZED = 4401;
const TOO_MANY_CONNECTIONS = 4429;
const FINAL_STATES: Record<number, LiveState> = {
  [UNAUTHORIZED]: "logged-out",
  [TOO_MANY_CONNECTIONS]: "too-many",
};

function closeCode(event: unknown): number | undefined {
  return typeof event === "object" && event !== null && "code" in event
    ? Number(event.code)
    : undefined;
}

export function liveClient(onState: (state: LiveState) => void, onReconnected: () => void): Client {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let connectedBefore = false;
  return createClient({
    url: `${scheme}://${location.host}/graphql/`,
    retryAttempts: Infinity,
    shouldRetry: (event) => closeCode(event) !== UNAUTHORIZED,
    lazy: false,
    keepAlive: 15_000,
    on: {
      connecting: () => onState(connectedBefore ? "reconnecting" : "connecting"),
      connected: () => {
        onState("live");
        if (connectedBefore) onReconnected(); // catch up on whatever happened meanwhile
        connectedBefore = true;
      },
      closed: (event) => onState(FINAL_STATES[closeCode(event) ?? 0] ?? "reconnecting"),
    },
  });
}

export function watchFiles(client: Client, onFile: (file: FileRow) => void): () => void {
  return client.subscribe<FileUpdatesSubscription>(
    { query: fileUpdatesSubscription.toString() },
    {
      next: (message) => {
        if (message.data?.fileUpdates) onFile(message.data.fileUpdates);
      },
      error: () => undefined, // the client retries; `closed` already shows it
      complete: () => undefined,
    },
  );
}
