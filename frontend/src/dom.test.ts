import { afterEach, describe, expect, it, vi } from "vitest";

import { FrameScheduler } from "./dom";

describe("FrameScheduler", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("runs each key's latest render once per frame", () => {
    const frames: FrameRequestCallback[] = [];
    vi.stubGlobal("requestAnimationFrame", (callback: FrameRequestCallback) =>
      frames.push(callback),
    );
    const scheduler = new FrameScheduler();
    const drawn: string[] = [];
    for (const version of ["v1", "v2", "v3"])
      scheduler.schedule("table", () => drawn.push(`table ${version}`));
    scheduler.schedule("upload", () => drawn.push("upload"));
    expect(frames).toHaveLength(1); // one frame asked for, however many changes
    expect(drawn).toEqual([]);
    frames[0](0);
    expect(drawn).toEqual(["table v3", "upload"]);
    scheduler.schedule("table", () => drawn.push("table v4")); // a change during the next frame
    expect(frames).toHaveLength(2);
  });
});
