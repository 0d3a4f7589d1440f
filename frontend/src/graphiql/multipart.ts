// The GraphQL multipart request (github.com/jaydenseric/graphql-multipart-request-spec) that
// GraphiQL's Files panel sends: `operations` (the variables with null where each file goes),
// `map` (part name → variable paths) and one part per file. Pure, unit-tested.
import { getOperationAST, parse } from "graphql";

/** A variable path (`file`, `files.0`, `input.avatar`) and the file picked for it. */
export interface FileBinding {
  path: string;
  file: File;
}

export interface Operation {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/** The picker's files for one path: one file goes at the path itself, several at path.0,
 * path.1, … (a list variable such as `files: [Upload!]!`). */
export function bindingsFor(path: string, files: readonly File[]): FileBinding[] {
  const trimmed = path.trim();
  if (!trimmed || files.length === 0) return [];
  if (files.length === 1) return [{ path: trimmed, file: files[0] }];
  return files.map((file, index) => ({ path: `${trimmed}.${index}`, file }));
}

/** The bindings whose variable the operation declares: the schema's introspection, or a
 * query without `$file`, stays plain JSON. */
export function bindingsUsed(
  operation: Operation,
  bindings: readonly FileBinding[],
): FileBinding[] {
  if (bindings.length === 0) return [];
  let declared: Set<string>;
  try {
    const ast = getOperationAST(parse(operation.query), operation.operationName ?? undefined);
    declared = new Set(
      ast?.variableDefinitions?.map((definition) => definition.variable.name.value),
    );
  } catch {
    return []; // not valid GraphQL: the server's JSON answer says why
  }
  return bindings.filter((binding) => declared.has(binding.path.split(".")[0]));
}

/** `value` with null at `path`, containers made as needed (an array where the next key is a
 * number), without changing the caller's object. */
function withNullAt(value: unknown, keys: readonly string[]): unknown {
  if (keys.length === 0) return null;
  const [key, ...rest] = keys;
  const container: Record<string, unknown> | unknown[] = Array.isArray(value)
    ? [...value]
    : typeof value === "object" && value !== null
      ? { ...value }
      : /^\d+$/.test(key)
        ? []
        : {};
  (container as Record<string, unknown>)[key] = withNullAt(
    (container as Record<string, unknown>)[key],
    rest,
  );
  return container;
}

export function multipartBody(operation: Operation, bindings: readonly FileBinding[]): FormData {
  let variables: unknown = operation.variables ?? {};
  const map: Record<string, string[]> = {};
  bindings.forEach((binding, index) => {
    variables = withNullAt(variables, binding.path.split("."));
    map[String(index)] = [`variables.${binding.path}`];
  });
  const body = new FormData();
  body.append("operations", JSON.stringify({ ...operation, variables }));
  body.append("map", JSON.stringify(map));
  for (const [index, binding] of bindings.entries()) {
    body.append(String(index), binding.file, binding.file.name);
  }
  return body;
}
