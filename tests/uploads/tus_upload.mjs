// tus-js-client (frontend/node_modules, the version the page uses) uploads a file in two
// halves with a break: a first client sends the first half and goes away; a second, new
// client resumes from the upload URL (optionally on another server: RESUME_ORIGIN) and sends
// the rest. Prints {"url", "offsetAfterFirst", "fileId"} as JSON.
//   node tests/uploads/tus_upload.mjs <endpoint> <token> <file> [resume origin]
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../../frontend/package.json", import.meta.url));
const tus = require("tus-js-client");

const [endpoint, token, path, resumeOrigin] = process.argv.slice(2);
const data = readFileSync(path);
const half = Math.ceil(data.length / 2);
const headers = { Authorization: `Bearer ${token}` };

function firstHalf() {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      endpoint, headers, chunkSize: half, retryDelays: null,
      metadata: { filename: "halves-node.txt" },
      onChunkComplete: (_chunk, sent) => {
        if (sent === half) upload.abort().then(() => resolve({ url: upload.url, sent }));
      },
      onError: reject,
      onSuccess: () => reject(new Error("the first client sent the whole file")),
    });
    upload.start();
  });
}

function rest(url) {
  let fileId = null;
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      uploadUrl: url, headers, retryDelays: null,
      onAfterResponse: (_request, response) => { fileId = response.getHeader("File-Id") ?? fileId; },
      onError: reject,
      onSuccess: () => resolve(fileId),
    });
    upload.start();
  });
}

const first = await firstHalf();
const url = resumeOrigin ? resumeOrigin + new URL(first.url).pathname : first.url;
const fileId = await rest(url);
console.log(JSON.stringify({ url: first.url, offsetAfterFirst: first.sent, fileId }));
