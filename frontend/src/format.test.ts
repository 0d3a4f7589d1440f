import { describe, expect, it } from "vitest";

import { errorMessage, formatTime, type GraphQLErrorLike, humanSize, percent } from "./format";

describe("humanSize", () => {
  it.each([
    [0, "0 B"],
    [22, "22 B"],
    [1023, "1023 B"],
    [1024, "1 KiB"],
    [15_300, "14.9 KiB"],
    [250_000_000, "238 MiB"],
    [1024 ** 3, "1 GiB"],
    [(3 * 1024 ** 3) / 2, "1.5 GiB"],
    [3_500_000_000, "3.26 GiB"],
    [-1, "—"],
  ])("%d bytes → %s", (bytes, text) => expect(humanSize(bytes)).toBe(text));
});

describe("percent", () => {
  it("rounds and clamps", () => {
    expect(percent(0.456)).toBe("46%");
    expect(percent(1.5)).toBe("100%");
    expect(percent(-1)).toBe("0%");
  });
});

describe("formatTime", () => {
  it("shows a dash for missing or broken times", () => {
    expect(formatTime(null)).toBe("—");
    expect(formatTime("not a date")).toBe("—");
  });
  it("formats an ISO time", () => {
    expect(formatTime("2026-11-24T10:15:00+00:00", "en-GB")).toMatch(/24 Nov 2026/);
  });
});

describe("errorMessage", () => {
  it("prefers the server's words", () => {
    const errors: GraphQLErrorLike[] = [
      { message: "big.iso is larger than the 1 GiB limit", extensions: { code: "FILE_TOO_LARGE" } },
    ];
    expect(errorMessage(errors)).toBe("big.iso is larger than the 1 GiB limit");
  });
  it("falls back to words for the code, never an internal message", () => {
    expect(errorMessage([{ extensions: { code: "TOO_MANY_FILES" } }])).toMatch(/Too many files/);
    expect(
      errorMessage([
        { message: "Internal server error.", extensions: { code: "INTERNAL_SERVER_ERROR" } },
      ]),
    ).toMatch(/went wrong/);
  });
  it("explains a lost connection and an HTTP 413", () => {
    expect(errorMessage(undefined, 0)).toMatch(/connection/);
    expect(errorMessage(undefined, 413)).toMatch(/larger/);
  });
});
