// DOM helpers shared by the views: elements built with textContent only (file names are user
// input, never HTML), and renders coalesced into animation frames.
import { percent } from "./format";

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export function bar(label: string, fraction: number): HTMLElement {
  const progress = el("progress", { max: 1, value: fraction });
  progress.setAttribute("aria-label", label);
  return el(
    "span",
    { className: "bar" },
    progress,
    el("span", {}, `${label} ${percent(fraction)}`),
  );
}

export function badge(status: string): HTMLElement {
  return el(
    "span",
    { className: `badge ${status.toLowerCase()}` },
    status.toLowerCase().replace("_", " "),
  );
}

/**
 * One render per animation frame, whatever the number of changes in between: 500 files
 * arriving at once (thousands of events) cost one table render per frame, not one per event,
 * so the page never blocks for long. Work is keyed: a second change to the same thing before
 * the frame replaces the first.
 */
export class FrameScheduler {
  private readonly pending = new Map<unknown, () => void>();
  private frame = 0;

  schedule(key: unknown, render: () => void): void {
    this.pending.set(key, render);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.frame = 0;
    const work = [...this.pending.values()];
    this.pending.clear();
    for (const render of work) render();
  }
}

/** Status changes for screen readers, in the page's polite live region (#announcer): only
 * changes of state are said, never progress ticks. The last few messages are kept, so two
 * changes in one moment are both read. */
const ANNOUNCEMENTS_KEPT = 5;

export function announce(text: string): void {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.append(el("p", {}, text));
  while (region.childElementCount > ANNOUNCEMENTS_KEPT) region.firstElementChild?.remove();
}
