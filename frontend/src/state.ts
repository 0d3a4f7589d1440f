// The files table's state: which rows are shown, merged with live events by version.

import type { FileFieldsFragment, FileStatus } from "./gql/graphql";

export type { FileStatus };

/**
 * A file as the table, the upload list and live events show it (operations.ts `FileFields`);
 * a live event's `deleted` says it is the file's last.
 */
export type FileRow = FileFieldsFragment & { deleted?: boolean };

export interface Filters {
  status: FileStatus | "";
  name: string;
}

export function matches(file: FileRow, filters: Filters): boolean {
  if (filters.status && file.status !== filters.status) return false;
  return !filters.name || file.name.toLowerCase().includes(filters.name.toLowerCase());
}

export class FileTable {
  rows: FileRow[] = [];
  totalCount = 0;
  /** The server stopped counting at `totalCount` (a filter by name): at least that many. */
  countIsCapped = false;
  filters: Filters = { status: "", name: "" };
  /** The first page shows new uploads as they arrive; later pages stay put. */
  onFirstPage = true;

  load(rows: FileRow[], totalCount: number, onFirstPage: boolean, countIsCapped = false): void {
    this.rows = rows;
    this.totalCount = totalCount;
    this.countIsCapped = countIsCapped;
    this.onFirstPage = onFirstPage;
  }

  /**
   * Apply a live event. Returns true when the table changed. A deletion drops the row at
   * once (it is the file's last event). Events not newer than the row already shown are
   * dropped (the server sends each change once per subscription, but a reload and an event
   * can cross).
   */
  apply(file: FileRow): boolean {
    const index = this.rows.findIndex((row) => row.id === file.id);
    if (file.deleted) return this.remove(file.id);
    if (index >= 0) {
      if (file.version <= this.rows[index].version) return false;
      if (!matches(file, this.filters)) {
        this.rows.splice(index, 1);
        this.count(-1);
      } else {
        this.rows[index] = file;
      }
      return true;
    }
    if (this.onFirstPage && matches(file, this.filters)) {
      this.rows.unshift(file);
      this.count(1);
      return true;
    }
    return false;
  }

  /** "1,000+ files" once the server stopped counting. */
  countLabel(): string {
    const files = `file${this.totalCount === 1 && !this.countIsCapped ? "" : "s"}`;
    return `${this.totalCount.toLocaleString("en")}${this.countIsCapped ? "+" : ""} ${files}`;
  }

  /** A capped count is a lower bound: a live change leaves it as the server gave it. */
  private count(change: number): void {
    if (!this.countIsCapped) this.totalCount = Math.max(0, this.totalCount + change);
  }

  remove(id: string): boolean {
    const before = this.rows.length;
    this.rows = this.rows.filter((row) => row.id !== id);
    if (this.rows.length === before) return false;
    this.count(-1);
    return true;
  }
}
