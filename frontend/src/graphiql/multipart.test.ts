import { describe, expect, it } from "vitest";

import { bindingsFor, bindingsUsed, multipartBody } from "./multipart";

const a = new File(["a"], "a.txt");
const b = new File(["bb"], "b.txt");
const UPLOAD = "mutation Up($file: Upload!) { uploadFile(file: $file) { id } }";

describe("bindingsFor", () => {
  it("puts one file at the path and several at path.N", () => {
    expect(bindingsFor(" file ", [a])).toEqual([{ path: "file", file: a }]);
    expect(bindingsFor("files", [a, b])).toEqual([
      { path: "files.0", file: a },
      { path: "files.1", file: b },
    ]);
    expect(bindingsFor("", [a])).toEqual([]);
    expect(bindingsFor("file", [])).toEqual([]);
  });
});

describe("bindingsUsed", () => {
  const bound = [
    { path: "file", file: a },
    { path: "files.0", file: b },
  ];
  it("keeps the files whose variable the chosen operation declares", () => {
    expect(bindingsUsed({ query: UPLOAD }, bound)).toEqual([bound[0]]);
    const two = `${UPLOAD} query Q { files { totalCount } }`;
    expect(bindingsUsed({ query: two, operationName: "Q" }, bound)).toEqual([]);
    expect(bindingsUsed({ query: "query IntrospectionQuery { __typename }" }, bound)).toEqual([]);
    expect(bindingsUsed({ query: "not graphql {" }, bound)).toEqual([]);
  });
});

describe("multipartBody", () => {
  it("follows the multipart request spec", async () => {
    const body = multipartBody({ query: UPLOAD, variables: { note: "x", files: [] } }, [
      { path: "file", file: a },
      { path: "files.0", file: b },
      { path: "input.avatar", file: a },
    ]);
    expect(JSON.parse(body.get("operations") as string)).toEqual({
      query: UPLOAD,
      variables: { note: "x", file: null, files: [null], input: { avatar: null } },
    });
    expect(JSON.parse(body.get("map") as string)).toEqual({
      0: ["variables.file"],
      1: ["variables.files.0"],
      2: ["variables.input.avatar"],
    });
    expect(await (body.get("1") as File).text()).toBe("bb");
    expect((body.get("2") as File).name).toBe("a.txt");
  });
});
