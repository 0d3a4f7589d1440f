// Direct uploads, used when the server stores files in S3 (the page says so with
// `data-direct-upload`): the bytes go straight to the bucket with a presigned POST, so big
// files skip the web tier. Three steps: createUploadUrl, the POST (XHR, for real progress),
// completeUpload. The same handlers as `uploadFile`, so the page treats both alike.
import { execute, type Cancel, type UploadHandlers } from "./api";
import type { CreateUploadUrlMutation } from "./gql/graphql";
import { completeUploadMutation, createUploadUrlMutation, deleteFileMutation } from "./operations";

type UploadUrl = CreateUploadUrlMutation["createUploadUrl"];

/** Whether this page's server takes direct uploads. */
export function directUploadsEnabled(): boolean {
  return document.querySelector("[data-direct-upload]") !== null;
}

/** The presigned POST: the form's fields first, the file last (S3 ignores anything after
 * it); resolves with the HTTP status, 0 when the connection failed or was aborted. */
function postToStorage(
  issued: UploadUrl,
  file: File,
  onProgress: (fraction: number) => void,
  signal: AbortSignal,
): Promise<number> {
  const body = new FormData();
  for (const field of issued.fields) body.append(field.name, field.value);
  body.append("file", file, file.name);
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open("POST", issued.url);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => resolve(request.status);
    request.onerror = request.onabort = () => resolve(0);
    signal.addEventListener("abort", () => request.abort());
    request.send(body);
  });
}

/** Cancelling aborts the POST and deletes the file's AWAITING_UPLOAD row (`deleteFile`
 * cancels one), so nothing is left reserved against the quota. */
export function uploadDirect(file: File, handlers: UploadHandlers): Cancel {
  const aborted = new AbortController();
  let fileId: string | undefined;
  const run = async () => {
    const created = await execute(createUploadUrlMutation, { name: file.name, size: file.size });
    const issued = created.data?.createUploadUrl;
    if (aborted.signal.aborted) {
      if (issued) await execute(deleteFileMutation, { id: issued.file.id });
      return;
    }
    if (!issued) return handlers.onError(created.errors, 200);
    fileId = issued.file.id;
    const status = await postToStorage(issued, file, handlers.onProgress, aborted.signal);
    if (aborted.signal.aborted) return;
    if (status < 200 || status >= 300) {
      const message =
        status === 0
          ? "The connection to the file storage was lost."
          : `The file storage refused the file (HTTP ${status}).`;
      return handlers.onError([{ message }], status);
    }
    const completed = await execute(completeUploadMutation, { id: issued.file.id });
    if (aborted.signal.aborted) return;
    if (completed.data?.completeUpload) handlers.onDone(completed.data.completeUpload);
    else handlers.onError(completed.errors, 200);
  };
  void run();
  return () => {
    aborted.abort();
    if (fileId) void execute(deleteFileMutation, { id: fileId });
  };
}
