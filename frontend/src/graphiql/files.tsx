// GraphiQL's "Files" panel: pick files and bind each pick to a variable path of the operation
// (`file`, `files`, `input.avatar`). The fetcher (./main.tsx) then sends the operations that
// declare that variable as a GraphQL multipart request instead of JSON. The picks live in
// this module, not in the panel, so they survive the panel being closed.
import { useSyncExternalStore, type ChangeEvent } from "react";
import type { GraphiQLPlugin } from "@graphiql/react";

import { bindingsFor, type FileBinding } from "./multipart";

interface Row {
  id: number;
  path: string;
  files: File[];
}

let rows: Row[] = [{ id: 0, path: "file", files: [] }];
let nextId = 1;
const listeners = new Set<() => void>();

function update(next: Row[]): void {
  rows = next;
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** What the fetcher sends with the next operation. */
export function currentBindings(): FileBinding[] {
  return rows.flatMap((row) => bindingsFor(row.path, row.files));
}

function change(id: number, patch: Partial<Row>): void {
  update(rows.map((row) => (row.id === id ? { ...row, ...patch } : row)));
}

function FilesPanel() {
  const current = useSyncExternalStore(subscribe, () => rows);
  return (
    <section className="files-plugin" aria-label="Files sent with the operation">
      <div className="graphiql-doc-explorer-title">Files</div>
      <p>
        Bind files to <code>Upload</code> variables: an operation that declares the variable is sent
        as a multipart upload. Several files on one path fill a list (<code>files.0</code>,{" "}
        <code>files.1</code>, …).
      </p>
      {current.map((row) => (
        <div className="files-plugin-row" key={row.id} data-row={row.id}>
          <label>
            Variable
            <input
              className="files-plugin-path"
              value={row.path}
              spellCheck={false}
              onChange={(event: ChangeEvent<HTMLInputElement>) =>
                change(row.id, { path: event.target.value })
              }
            />
          </label>
          <input
            className="files-plugin-input"
            type="file"
            multiple
            aria-label={`Files for ${row.path}`}
            onChange={(event: ChangeEvent<HTMLInputElement>) =>
              change(row.id, { files: [...(event.target.files ?? [])] })
            }
          />
          <output>{row.files.map((file) => file.name).join(", ") || "no file"}</output>
          <button type="button" onClick={() => update(rows.filter((other) => other.id !== row.id))}>
            Remove
          </button>
        </div>
      ))}
      <button
        type="button"
        onClick={() => update([...rows, { id: nextId++, path: "", files: [] }])}
      >
        Add a variable
      </button>
    </section>
  );
}

function PaperclipIcon() {
  return (
    <svg
      viewBox="0 0 24 24"
      width="1em"
      height="1em"
      fill="none"
      stroke="currentColor"
      strokeWidth="1.5"
      aria-hidden="true"
    >
      <path d="M21 11.5 12.5 20a5.5 5.5 0 0 1-7.8-7.8l9-9a3.7 3.7 0 0 1 5.2 5.2l-9 9a1.8 1.8 0 0 1-2.6-2.6l8.3-8.3" />
    </svg>
  );
}

export const filesPlugin: GraphiQLPlugin = {
  title: "Files",
  icon: PaperclipIcon,
  content: FilesPanel,
};
