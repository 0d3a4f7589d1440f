// The live page: drop files, watch them upload and process, browse the table, open a file.
import { execute, liveClient, uploadFile, watchFiles, type LiveState } from "./api";
import { directUploadsEnabled, uploadDirect } from "./directUpload";
import { resumable, uploadResumable } from "./tus";
import { renderDetail, renderRows, renderUpload, type UploadItem } from "./view";
import { errorMessage } from "./format";
import type { FileFilter } from "./gql/graphql";
import { filesQuery } from "./operations";
import { FileTable, type FileRow, type FileStatus } from "./state";
import "./styles.css";

const PAGE_SIZE = 20;
const SEARCH_DELAY_MS = 250;

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;

const table = new FileTable();
const uploads = new Map<string, UploadItem>(); // by local key, then also by file id
const cursors: (string | null)[] = [null]; // the `after` of each page seen
let page = 0;
let hasNextPage = false;

function setLive(state: LiveState): void {
  const badge = $("#live");
  badge.dataset.state = state;
  badge.textContent = {
    connecting: "connecting…", live: "live", reconnecting: "reconnecting…",
    "logged-out": "logged out — reload to log in",
    "too-many": "not live: too many open tabs — close one and reload",
  }[state];
}

async function refresh(): Promise<void> {
  const filters: FileFilter = {};
  if (table.filters.status) filters.status = table.filters.status;
  if (table.filters.name) filters.nameContains = table.filters.name;
  const result = await execute(filesQuery, { first: PAGE_SIZE, after: cursors[page], filters });
  if (!result.data) {
    $("#table-error").textContent = errorMessage(result.errors);
    return;
  }
  $("#table-error").textContent = "";
  const { files } = result.data;
  hasNextPage = files.pageInfo.hasNextPage;
  cursors[page + 1] = files.pageInfo.endCursor;
  table.load(files.edges.map((edge) => edge.node), files.totalCount ?? 0, page === 0);
  draw();
}

function draw(): void {
  renderRows($("#rows"), table.rows, openDetail, Boolean(table.filters.status || table.filters.name));
  $("#count").textContent = `${table.totalCount} file${table.totalCount === 1 ? "" : "s"}`;
  ($("#prev") as HTMLButtonElement).disabled = page === 0;
  ($("#next") as HTMLButtonElement).disabled = !hasNextPage;
}

function onLiveFile(file: FileRow): void {
  if (table.apply(file)) draw();
  const item = uploads.get(file.id);
  if (item && file.version > (item.file?.version ?? 0)) {
    item.file = file;
    renderUpload(item);
  }
}

function startUploads(files: FileList | File[]): void {
  for (const file of Array.from(files)) {
    const item: UploadItem = { key: crypto.randomUUID(), name: file.name, size: file.size,
                               sent: 0, element: document.createElement("li") };
    $("#uploads").prepend(item.element);
    uploads.set(item.key, item);
    renderUpload(item);
    (resumable(file) ? uploadResumable : directUploadsEnabled() ? uploadDirect : uploadFile)(file, {
      onProgress: (fraction) => { item.sent = fraction; renderUpload(item); },
      onDone: (uploaded) => {
        item.sent = 1;
        // Live events can beat the HTTP response: keep whichever state is newer.
        const seen = table.rows.find((row) => row.id === uploaded.id);
        item.file = seen && seen.version > uploaded.version ? seen : uploaded;
        uploads.set(uploaded.id, item);
        onLiveFile(uploaded);
        renderUpload(item);
      },
      onError: (errors, status) => { item.error = errorMessage(errors, status); renderUpload(item); },
    });
  }
}

async function openDetail(id: string): Promise<void> {
  const dialog = $("#detail") as HTMLDialogElement;
  await renderDetail(dialog, id, {
    onDeleted: (deletedId) => { if (table.remove(deletedId)) draw(); void refresh(); },
  });
  if (!dialog.open) dialog.showModal();
}

function wireControls(): void {
  const drop = $("#drop");
  const input = $("#file-input") as HTMLInputElement;
  $("#pick").addEventListener("click", () => input.click());
  input.addEventListener("change", () => { if (input.files) startUploads(input.files); input.value = ""; });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer?.files.length) startUploads(event.dataTransfer.files);
  });
  const status = $("#filter-status") as HTMLSelectElement;
  const search = $("#filter-name") as HTMLInputElement;
  let searchTimer = 0;
  const restart = () => { page = 0; cursors.length = 1; void refresh(); };
  status.addEventListener("change", () => { table.filters.status = status.value as FileStatus | ""; restart(); });
  search.addEventListener("input", () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => { table.filters.name = search.value.trim(); restart(); }, SEARCH_DELAY_MS);
  });
  $("#prev").addEventListener("click", () => { page = Math.max(0, page - 1); void refresh(); });
  $("#next").addEventListener("click", () => { if (hasNextPage) { page += 1; void refresh(); } });
  $("#detail-close").addEventListener("click", () => ($("#detail") as HTMLDialogElement).close());
}

function main(): void {
  wireControls();
  const client = liveClient(setLive, () => void refresh());
  watchFiles(client, onLiveFile);
  void refresh();
}

main();
