import { describe, expect, it } from "vitest";

import { errorMessage, formatTime, humanSize, percent } from "./format";

describe("humanSize", () => {
  it.each([
    [0, "0 B"], [999, "999 B"], [1000, "1.00 KB"], [15_300, "15.3 KB"],
    [250_000_000, "250 MB"], [3_500_000_000, "3.50 GB"], [-1, "—"],
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
    const errors = [{ message: "big.iso is larger than the 1000 byte limit", extensions: { code: "FILE_TOO_LARGE" } }];
    expect(errorMessage(errors)).toBe("big.iso is larger than the 1000 byte limit");
  });
  it("falls back to words for the code, never an internal message", () => {
    expect(errorMessage([{ extensions: { code: "TOO_MANY_FILES" } }])).toMatch(/Too many files/);
    expect(errorMessage([{ message: "Internal server error.", extensions: { code: "INTERNAL_SERVER_ERROR" } }]))
      .toMatch(/went wrong/);
  });
  it("explains a lost connection and an HTTP 413", () => {
    expect(errorMessage(undefined, 0)).toMatch(/connection/);
    expect(errorMessage(undefined, 413)).toMatch(/larger/);
  });
});
