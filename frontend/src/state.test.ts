import { describe, expect, it } from "vitest";

import { FileTable, matches, type FileRow } from "./state";

function file(id: string, overrides: Partial<FileRow> = {}): FileRow {
  return {
    id,
    name: `${id}.txt`,
    size: 10,
    kind: "TEXT",
    contentType: "text/plain",
    status: "PENDING",
    progress: 0,
    error: null,
    uploadedAt: "2026-11-24T10:00:00Z",
    processedAt: null,
    version: 1,
    url: `/files/${id}/download`,
    result: null,
    ...overrides,
  };
}

describe("FileTable.apply", () => {
  it("updates a row only with a newer version", () => {
    const table = new FileTable();
    table.load([file("a", { version: 3, status: "PROCESSING" })], 1, true);
    expect(table.apply(file("a", { version: 2, status: "PENDING" }))).toBe(false);
    expect(table.rows[0].status).toBe("PROCESSING");
    expect(table.apply(file("a", { version: 4, status: "DONE" }))).toBe(true);
    expect(table.rows[0].status).toBe("DONE");
  });

  it("puts new files on top of the first page only", () => {
    const first = new FileTable();
    first.load([file("a")], 1, true);
    expect(first.apply(file("b"))).toBe(true);
    expect(first.rows.map((row) => row.id)).toEqual(["b", "a"]);
    expect(first.totalCount).toBe(2);

    const later = new FileTable();
    later.load([file("a")], 30, false);
    expect(later.apply(file("b"))).toBe(false);
    expect(later.rows).toHaveLength(1);
  });

  it("respects the filters: rows leave and join as their status changes", () => {
    const table = new FileTable();
    table.filters = { status: "PROCESSING", name: "" };
    table.load([file("a", { status: "PROCESSING", version: 2 })], 1, true);
    expect(table.apply(file("a", { status: "DONE", version: 3 }))).toBe(true);
    expect(table.rows).toHaveLength(0);
    expect(table.apply(file("b", { status: "PENDING" }))).toBe(false);
    expect(table.apply(file("b", { status: "PROCESSING", version: 2 }))).toBe(true);
    expect(table.rows.map((row) => row.id)).toEqual(["b"]);
  });

  it("removes deleted rows", () => {
    const table = new FileTable();
    table.load([file("a"), file("b")], 2, true);
    expect(table.remove("a")).toBe(true);
    expect(table.remove("zzz")).toBe(false);
    expect(table.totalCount).toBe(1);
  });

  it("drops a row at once when its deletion event arrives", () => {
    const table = new FileTable();
    table.load([file("a", { version: 3 }), file("b")], 2, true);
    expect(table.apply(file("a", { version: 4, deleted: true }))).toBe(true);
    expect(table.rows.map((row) => row.id)).toEqual(["b"]);
    expect(table.totalCount).toBe(1);
    expect(table.apply(file("zzz", { version: 2, deleted: true }))).toBe(false);
    expect(table.totalCount).toBe(1);
  });
});

describe("matches", () => {
  it("searches names case-insensitively", () => {
    expect(matches(file("Report"), { status: "", name: "repo" })).toBe(true);
    expect(matches(file("x"), { status: "", name: "repo" })).toBe(false);
  });
});

describe("FileTable.countLabel", () => {
  it("says an exact count, and a capped one as at least that many", () => {
    const table = new FileTable();
    table.load([file("a")], 1, true);
    expect(table.countLabel()).toBe("1 file");
    table.load([file("a")], 1000, true, true);
    expect(table.countLabel()).toBe("1,000+ files");
    table.apply(file("b"));
    expect(table.countLabel()).toBe("1,000+ files");
  });
});
