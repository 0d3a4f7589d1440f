// The upload list: one item per file sent from this page, from its upload progress to the
// end of its processing, with Cancel while it uploads and Retry when it failed.
import { execute, uploadFile, type Cancel } from "./api";
import { directUploadsEnabled, uploadDirect } from "./directUpload";
import { announce, badge, bar, el, type FrameScheduler } from "./dom";
import { errorMessage, humanSize, percent, type GraphQLErrorLike } from "./format";
import { reprocessFileMutation } from "./operations";
import type { ErrorCode } from "./gql/enums";
import type { FileRow } from "./state";
import { resumable, uploadResumable } from "./tus";

/** Refused for what the file is: sending the same bytes again would be refused again. */
const FINAL_ERRORS = new Set<ErrorCode>(["FILE_TOO_LARGE", "INVALID_UPLOAD"]);

type Phase = "UPLOADING" | "CANCELLED" | "ERROR" | FileRow["status"];

const PHASE_WORDS: Record<Phase, string> = {
  UPLOADING: "uploading",
  CANCELLED: "upload cancelled",
  ERROR: "upload failed",
  AWAITING_UPLOAD: "waiting for its bytes",
  PENDING: "waiting to be processed",
  PROCESSING: "processing",
  DONE: "done",
  FAILED: "processing failed",
};

interface UploadItem {
  source: File;
  sent: number; // fraction of bytes sent
  error?: string;
  retryable: boolean;
  cancelled: boolean;
  file?: FileRow;
  cancel?: Cancel;
  drawn?: Phase; // what the element shows, and what was announced
  element: HTMLLIElement;
}

export interface UploadHooks {
  /** The server stored a file: show it in the table. */
  uploaded(file: FileRow): void;
  /** The newest state of a file the page has seen (a live event can beat the answer). */
  latest(id: string): FileRow | undefined;
}

export class UploadList {
  private readonly byFileId = new Map<string, UploadItem>();

  constructor(
    private readonly list: HTMLElement,
    private readonly frames: FrameScheduler,
    private readonly hooks: UploadHooks,
  ) {}

  start(files: Iterable<File>): void {
    for (const source of files) {
      const item: UploadItem = {
        source,
        sent: 0,
        retryable: false,
        cancelled: false,
        element: el("li"),
      };
      this.list.prepend(item.element);
      this.send(item);
    }
  }

  /** A live event about a file: the item that uploaded it follows its processing. */
  update(file: FileRow): void {
    const item = this.byFileId.get(file.id);
    if (!item || file.version <= (item.file?.version ?? 0)) return;
    item.file = file;
    this.render(item);
  }

  private send(item: UploadItem): void {
    Object.assign(item, { sent: 0, error: undefined, file: undefined, cancelled: false });
    this.render(item);
    const upload = resumable(item.source)
      ? uploadResumable
      : directUploadsEnabled()
        ? uploadDirect
        : uploadFile;
    item.cancel = upload(item.source, {
      onProgress: (fraction) => {
        item.sent = fraction;
        this.render(item);
      },
      onDone: (uploaded) => {
        item.cancel = undefined;
        this.byFileId.set(uploaded.id, item);
        this.hooks.uploaded(uploaded);
        const seen = this.hooks.latest(uploaded.id);
        this.update(seen && seen.version > uploaded.version ? seen : uploaded);
      },
      onError: (errors, status) => {
        item.cancel = undefined;
        this.fail(item, errors, status);
      },
    });
  }

  private fail(item: UploadItem, errors: GraphQLErrorLike[] | undefined, status: number): void {
    const code = errors?.[0]?.extensions?.code;
    item.error = errorMessage(errors, status);
    item.retryable = !(code && FINAL_ERRORS.has(code)) && status !== 413;
    this.render(item);
  }

  private cancel(item: UploadItem): void {
    item.cancel?.();
    item.cancel = undefined;
    item.cancelled = true;
    this.render(item);
  }

  /**
   * An upload that failed or was cancelled is sent again, from the same local file. A file
   * whose processing FAILED is processed again (`reprocessFile`): its bytes are stored
   * already, and uploading them again would make a second file.
   */
  private async retry(item: UploadItem): Promise<void> {
    const failed = item.file?.status === "FAILED" ? item.file : undefined;
    if (!failed) return this.send(item);
    const answer = await execute(reprocessFileMutation, { id: failed.id });
    item.error = answer.errors ? errorMessage(answer.errors) : undefined;
    this.render(item); // the new state arrives live, from PENDING on
  }

  private phase(item: UploadItem): Phase {
    if (item.cancelled) return "CANCELLED";
    if (item.error) return "ERROR";
    return item.file?.status ?? "UPLOADING";
  }

  private render(item: UploadItem): void {
    this.frames.schedule(item, () => this.draw(item));
  }

  private button(label: string, name: string, action: () => void): HTMLButtonElement {
    const button = el("button", { type: "button", className: "small" }, label);
    button.setAttribute("aria-label", `${label} ${name}`);
    button.addEventListener("click", action);
    return button;
  }

  /** Progress moves the bar in place, so a focused Cancel button stays focused; a change of
   * phase rebuilds the item and is announced. */
  private draw(item: UploadItem): void {
    const phase = this.phase(item);
    const { element, file, source } = item;
    const fraction = phase === "UPLOADING" ? item.sent : (file?.progress ?? 0);
    if (phase === item.drawn && (phase === "UPLOADING" || phase === "PROCESSING")) {
      const progress = element.querySelector("progress");
      if (progress) progress.value = fraction;
      const label = element.querySelector(".bar > span");
      if (label)
        label.textContent = `${phase === "UPLOADING" ? "upload" : "processing"} ${percent(fraction)}`;
      return;
    }
    element.className = "upload";
    element.dataset.name = source.name;
    element.dataset.status = phase;
    const retry = this.button("Retry", source.name, () => void this.retry(item));
    const parts: (Node | string)[] = [el("strong", {}, source.name), ` ${humanSize(source.size)} `];
    if (phase === "UPLOADING")
      parts.push(
        bar("upload", fraction),
        this.button("Cancel", source.name, () => this.cancel(item)),
      );
    else if (phase === "CANCELLED")
      parts.push(el("span", { className: "muted" }, "cancelled"), retry);
    else if (phase === "ERROR")
      parts.push(
        el("span", { className: "error" }, item.error ?? ""),
        item.retryable || file ? retry : "",
      );
    else if (phase === "PROCESSING") parts.push(badge(phase), bar("processing", fraction));
    else
      parts.push(
        badge(phase),
        file?.error ? el("span", { className: "error" }, ` ${file.error}`) : "",
        phase === "FAILED" ? retry : "",
      );
    element.replaceChildren(...parts);
    if (item.drawn !== phase) {
      const detail = phase === "ERROR" ? item.error : phase === "FAILED" ? file?.error : undefined;
      announce(`${source.name}: ${PHASE_WORDS[phase]}${detail ? `. ${detail}` : ""}`);
    }
    item.drawn = phase;
  }
}
