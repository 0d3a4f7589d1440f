// Resumable uploads (tus 1.0, served at /tus/: schema/http/tus.py) for files of at least the
// server's TUS_THRESHOLD (`data-tus-threshold` on the drop zone). tus-js-client sends the
// bytes in PATCH requests of TUS_CHUNK_SIZE; when the connection drops it asks the server
// where the stored bytes end and goes on from there, and it keeps the upload's URL in
// localStorage, so choosing the same file again after a reload resumes it too. The File
// exists from the first request (its id comes back as the `File-Id` header) and turns
// PENDING with the last byte; the same handlers as `uploadFile`.
import * as tus from "tus-js-client";

import { csrfToken, execute, type Cancel, type UploadHandlers } from "./api";
import type { GraphQLErrorLike } from "./format";
import { fileRowQuery } from "./operations";

const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000, 20000];

function setting(name: "tusThreshold" | "tusChunkSize"): number {
  const drop = document.querySelector<HTMLElement>("#drop");
  return Number(drop?.dataset[name] ?? 0);
}

/** Whether this file goes through tus: the server says from which size (0: never). */
export function resumable(file: File): boolean {
  const threshold = setting("tusThreshold");
  return threshold > 0 && file.size >= threshold;
}

/** The server's JSON error (schema/errors.py shape), or what tus-js-client says. */
function failure(error: Error): [GraphQLErrorLike[] | undefined, number] {
  const response = error instanceof tus.DetailedError ? error.originalResponse : null;
  if (!response) return [[{ message: error.message }], 0];
  try {
    return [JSON.parse(response.getBody()).errors, response.getStatus()];
  } catch {
    return [undefined, response.getStatus()];
  }
}

/** Cancelling stops the transfer and terminates the upload (tus DELETE): the server drops
 * the file and the bytes it stored so far. */
export function uploadResumable(file: File, handlers: UploadHandlers): Cancel {
  let fileId: string | null = null;
  const upload = new tus.Upload(file, {
    endpoint: "/tus/",
    chunkSize: setting("tusChunkSize") || Infinity,
    retryDelays: RETRY_DELAYS_MS,
    metadata: { filename: file.name },
    removeFingerprintOnSuccess: true,
    onBeforeRequest: (request) => request.setHeader("X-CSRFToken", csrfToken()),
    onAfterResponse: (_request, response) => {
      fileId = response.getHeader("File-Id") ?? fileId;
    },
    onProgress: (sent, total) => handlers.onProgress(total ? sent / total : 1),
    onError: (error) => handlers.onError(...failure(error)),
    onSuccess: async () => {
      const result = fileId ? await execute(fileRowQuery, { id: fileId }) : undefined;
      if (result?.data?.file) handlers.onDone(result.data.file);
      else handlers.onError(result?.errors, 200);
    },
  });
  void upload.findPreviousUploads().then((previous) => {
    if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
    upload.start();
  });
  return () => {
    void upload.abort(true);
  };
}
