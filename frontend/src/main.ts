// The live page: drop, paste or pick files, watch them upload and process, browse the table,
// open a file.
import { execute, liveClient, watchFiles, type LiveState } from "./api";
import { FrameScheduler } from "./dom";
import { errorMessage } from "./format";
import type { FileFilter } from "./gql/graphql";
import { filesQuery } from "./operations";
import { RowsView } from "./rows";
import { FileTable, type FileRow, type FileStatus } from "./state";
import { UploadList } from "./uploads";
import { renderDetail } from "./view";
import "./styles.css";

const PAGE_SIZE = 20;
const SEARCH_DELAY_MS = 250;

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;

const table = new FileTable();
const frames = new FrameScheduler();
const rows = new RowsView($("#rows"), (id) => void openDetail(id));
const uploads = new UploadList($("#uploads"), frames, {
  uploaded: (file) => onLiveFile(file),
  latest: (id) => table.rows.find((row) => row.id === id),
});
const cursors: (string | null)[] = [null]; // the `after` of each page seen
let page = 0;
let hasNextPage = false;

function setLive(state: LiveState): void {
  const badge = $("#live");
  badge.dataset.state = state;
  badge.textContent = {
    connecting: "connecting…",
    live: "live",
    reconnecting: "reconnecting…",
    "logged-out": "logged out — reload to log in",
    "too-many": "not live: too many open tabs — close one and reload",
  }[state];
}

async function refresh(): Promise<void> {
  const filters: FileFilter = {};
  if (table.filters.status) filters.status = table.filters.status;
  if (table.filters.name) filters.nameContains = table.filters.name;
  $("#files").setAttribute("aria-busy", "true");
  const result = await execute(filesQuery, { first: PAGE_SIZE, after: cursors[page], filters });
  $("#files").removeAttribute("aria-busy");
  if (!result.data) {
    $("#table-error").textContent = errorMessage(result.errors);
    return;
  }
  $("#table-error").textContent = "";
  const { files } = result.data;
  hasNextPage = files.pageInfo.hasNextPage;
  cursors[page + 1] = files.pageInfo.endCursor;
  table.load(
    files.edges.map((edge) => edge.node),
    files.totalCount ?? 0,
    page === 0,
    files.totalCountIsCapped,
  );
  draw();
}

/** Drawn at the next animation frame, once however many events came in meanwhile; a big
 * change goes on over the next frames, a batch of rows in each. */
function draw(): void {
  frames.schedule(table, () => {
    if (rows.render(table.rows, Boolean(table.filters.status || table.filters.name))) draw();
    $("#count").textContent = table.countLabel();
    ($("#prev") as HTMLButtonElement).disabled = page === 0;
    ($("#next") as HTMLButtonElement).disabled = !hasNextPage;
  });
}

function onLiveFile(file: FileRow): void {
  if (table.apply(file)) draw();
  uploads.update(file);
}

async function openDetail(id: string): Promise<void> {
  const dialog = $("#detail") as HTMLDialogElement;
  await renderDetail(dialog, id, {
    onDeleted: (deletedId) => {
      if (table.remove(deletedId)) draw();
      void refresh();
    },
  });
  if (!dialog.open) dialog.showModal();
}

/** The drop zone is a button: a click, Enter or Space opens the file picker; files can also
 * be dropped on it, or pasted anywhere on the page. */
function wireUploads(): void {
  const drop = $("#drop");
  const input = $("#file-input") as HTMLInputElement;
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault(); // Space would scroll the page
    input.click();
  });
  input.addEventListener("change", () => {
    if (input.files) uploads.start(input.files);
    input.value = "";
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer?.files.length) uploads.start(event.dataTransfer.files);
  });
  // Text pasted into the search box stays text: only a paste that carries files uploads.
  document.addEventListener("paste", (event) => {
    const files = event.clipboardData?.files;
    if (!files?.length) return;
    event.preventDefault();
    uploads.start(files);
  });
}

function wireControls(): void {
  const status = $("#filter-status") as HTMLSelectElement;
  const search = $("#filter-name") as HTMLInputElement;
  let searchTimer = 0;
  const restart = () => {
    page = 0;
    cursors.length = 1;
    void refresh();
  };
  status.addEventListener("change", () => {
    table.filters.status = status.value as FileStatus | "";
    restart();
  });
  search.addEventListener("input", () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => {
      table.filters.name = search.value.trim();
      restart();
    }, SEARCH_DELAY_MS);
  });
  $("#prev").addEventListener("click", () => {
    page = Math.max(0, page - 1);
    void refresh();
  });
  $("#next").addEventListener("click", () => {
    if (hasNextPage) {
      page += 1;
      void refresh();
    }
  });
  $("#detail-close").addEventListener("click", () => ($("#detail") as HTMLDialogElement).close());
}

function main(): void {
  wireUploads();
  wireControls();
  const client = liveClient(setLive, () => void refresh());
  watchFiles(client, onLiveFile);
  void refresh();
}

main();
