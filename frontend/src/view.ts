// The detail dialog: a file's details and its typed result, with download, reprocess, delete.
import { execute } from "./api";
import { el } from "./dom";
import { errorMessage, formatTime, humanSize } from "./format";
import type { FileDetailQuery } from "./gql/graphql";
import { deleteFileMutation, fileDetailQuery, reprocessFileMutation } from "./operations";

type Result = NonNullable<NonNullable<FileDetailQuery["file"]>["result"]>;

function details(pairs: [string, unknown][]): HTMLElement {
  const list = el("dl");
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    list.append(el("dt", {}, label), el("dd", {}, String(value)));
  }
  return list;
}

function resultView(result: Result): HTMLElement[] {
  const skip = new Set([
    "__typename",
    "columns",
    "badRows",
    "entries",
    "tags",
    "thumbnailUrl",
    "preview",
    "textPreview",
    "data",
  ]);
  const words = (key: string) => key.replace(/([A-Z])/g, " $1").toLowerCase();
  const parts: HTMLElement[] = [
    details(
      Object.entries(result)
        .filter(([key]) => !skip.has(key))
        .map(([key, value]) => [words(key), value]),
    ),
  ];
  if (result.__typename === "ImageResult" && result.thumbnailUrl) {
    parts.unshift(el("img", { src: result.thumbnailUrl, alt: "Thumbnail", className: "thumb" }));
  }
  if (result.__typename === "CsvResult") {
    const { columns, badRows } = result;
    if (columns?.length) {
      parts.push(
        el(
          "table",
          { className: "mini" },
          el(
            "tr",
            {},
            el("th", { scope: "col" }, "column"),
            el("th", { scope: "col" }, "type"),
            el("th", { scope: "col" }, "nulls"),
          ),
          ...columns.map((c) =>
            el(
              "tr",
              {},
              el("td", {}, c.name),
              el("td", {}, c.type),
              el("td", { className: "num" }, String(c.nulls)),
            ),
          ),
        ),
      );
    }
    if (badRows?.length) {
      parts.push(
        el("h4", {}, `Bad rows (${result.badRowCount})`),
        el(
          "ul",
          { className: "bad-rows" },
          ...badRows.map((r) => el("li", {}, `line ${r.line}: ${r.reason}`)),
        ),
      );
    }
  }
  const preview =
    result.__typename === "TextResult"
      ? result.preview
      : result.__typename === "PdfResult"
        ? result.textPreview
        : undefined;
  if (preview) parts.push(el("pre", {}, preview));
  if (result.__typename === "ArchiveResult" && result.entries?.length) {
    parts.push(el("ul", { className: "entries" }, ...result.entries.map((e) => el("li", {}, e))));
  }
  if (result.__typename === "AudioResult" && result.tags?.length)
    parts.push(details(result.tags.map((t) => [t.key, t.value])));
  if (result.__typename === "CustomResult")
    parts.push(el("pre", {}, JSON.stringify(result.data, null, 2)));
  return parts;
}

export async function renderDetail(
  dialog: HTMLDialogElement,
  id: string,
  hooks: { onDeleted(id: string): void },
): Promise<void> {
  const body = dialog.querySelector(".detail-body") as HTMLElement;
  const response = await execute(fileDetailQuery, { id });
  const file = response.data?.file;
  if (!file) {
    body.replaceChildren(
      el(
        "p",
        { className: "error" },
        errorMessage(response.errors ?? [{ extensions: { code: "NOT_FOUND" } }]),
      ),
    );
    return;
  }
  const download = el("a", { href: file.url, className: "button" }, "Download");
  const reprocess = el("button", { type: "button" }, "Reprocess");
  const remove = el("button", { type: "button", className: "danger" }, "Delete");
  const message = el("p", { className: "error", role: "alert" });
  reprocess.addEventListener("click", async () => {
    const answer = await execute(reprocessFileMutation, { id });
    if (answer.errors) message.textContent = errorMessage(answer.errors);
    else dialog.close();
  });
  remove.addEventListener("click", async () => {
    if (!confirm(`Delete ${file.name}?`)) return;
    const answer = await execute(deleteFileMutation, { id });
    if (answer.errors) message.textContent = errorMessage(answer.errors);
    else {
      dialog.close();
      hooks.onDeleted(id);
    }
  });
  body.replaceChildren(
    el("h3", {}, file.name),
    details([
      ["Kind", file.kind.toLowerCase()],
      ["Type", file.contentType],
      ["Size", humanSize(file.size)],
      ["Status", file.status.toLowerCase()],
      ["Error", file.error],
      ["Uploaded", formatTime(file.uploadedAt)],
      ["Processed", formatTime(file.processedAt)],
      ["SHA-256", file.sha256],
    ]),
    ...(file.result ? resultView(file.result) : []),
    el("p", { className: "actions" }, download, reprocess, remove),
    message,
  );
}
