// The files table, rendered by key: a row is built when its file is new or has a newer
// version, moved when its place changed, and left alone otherwise. A live event costs one
// row, not the whole table; the name button keeps keyboard focus across updates.
import { badge, el } from "./dom";
import { formatTime, humanSize, percent } from "./format";
import type { FileRow } from "./state";

interface Shown {
  element: HTMLTableRowElement;
  version: number;
}

const COLUMNS = 7;
/** Rows built or updated in one frame: a few milliseconds of work, so 500 files arriving at
 * once fill the table over a few frames instead of blocking the page for one long one. */
const ROWS_PER_FRAME = 50;

/** A lazy-loaded thumbnail for an image that has one (`ImageResult.thumbnailUrl`). */
function thumbnail(file: FileRow): HTMLElement {
  const cell = el("td", { className: "thumb-cell" });
  if (file.result?.__typename === "ImageResult" && file.result.thumbnailUrl) {
    cell.append(
      el("img", {
        src: file.result.thumbnailUrl,
        alt: `Thumbnail of ${file.name}`,
        loading: "lazy",
        decoding: "async",
        width: 40,
        height: 40,
      }),
    );
  }
  return cell;
}

/** Every cell but the name's, which is built once per row (it holds the focusable button). */
function cells(file: FileRow): HTMLElement[] {
  const status =
    file.status === "PROCESSING"
      ? el("span", {}, badge(file.status), ` ${percent(file.progress)}`)
      : badge(file.status);
  return [
    thumbnail(file),
    el("td", {}, file.kind.toLowerCase()),
    el("td", { className: "num" }, humanSize(file.size)),
    el("td", {}, status),
    el("td", {}, formatTime(file.uploadedAt)),
    el("td", {}, formatTime(file.processedAt)),
  ];
}

export class RowsView {
  private readonly shown = new Map<string, Shown>();
  private readonly empty = el("tr", {}, el("td", { colSpan: COLUMNS, className: "empty" }));

  constructor(
    private readonly body: HTMLElement,
    private readonly open: (id: string) => void,
  ) {}

  /** Brings the table to `files`, building or updating at most ROWS_PER_FRAME rows; returns
   * whether rows are left for the next frame. */
  render(files: FileRow[], filtered: boolean): boolean {
    const wanted = new Set(files.map((file) => file.id));
    for (const [id, { element }] of this.shown) {
      if (!wanted.has(id)) {
        element.remove();
        this.shown.delete(id);
      }
    }
    let previous: Element | null = null;
    let budget = ROWS_PER_FRAME;
    for (const file of files) {
      const shown = this.shown.get(file.id);
      if (shown?.version !== file.version) budget -= 1;
      if (budget < 0 && !shown) continue; // not built yet: next frame
      const element = budget < 0 && shown ? shown.element : this.update(file);
      const expected: ChildNode | null = previous ? previous.nextSibling : this.body.firstChild;
      if (expected !== element) this.body.insertBefore(element, expected);
      previous = element;
    }
    if (files.length) this.empty.remove();
    else {
      (this.empty.firstChild as HTMLElement).textContent = filtered
        ? "No files match."
        : "No files yet.";
      this.body.replaceChildren(this.empty);
    }
    return budget < 0;
  }

  private update(file: FileRow): HTMLTableRowElement {
    let shown = this.shown.get(file.id);
    if (!shown) {
      const name = el("button", { className: "link", type: "button" }, file.name);
      name.addEventListener("click", () => this.open(file.id));
      shown = { element: el("tr", {}, el("th", { scope: "row" }, name)), version: -1 };
      this.shown.set(file.id, shown);
    }
    if (shown.version !== file.version) {
      const [thumb, ...rest] = cells(file);
      const { element } = shown;
      const nameCell = element.querySelector(":scope > th") as HTMLElement;
      for (const cell of Array.from(element.cells)) if (cell !== nameCell) cell.remove();
      nameCell.before(thumb);
      nameCell.after(...rest);
      element.dataset.id = file.id;
      element.dataset.status = file.status;
      element.dataset.name = file.name;
      shown.version = file.version;
    }
    return shown.element;
  }
}
