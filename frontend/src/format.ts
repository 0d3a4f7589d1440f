// Pure formatting helpers: easy to unit-test, no DOM.
import type { ErrorCode } from "./gql/enums";

// Binary units, the server's rule too (files_app/sizes.py): a limit reads the same in an
// upload error as in the table ("1 GiB").
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
const STEP = 1024;

export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  let value = bytes;
  let unit = 0;
  while (value >= STEP && unit < UNITS.length - 1) {
    value /= STEP;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  const text = value.toFixed(digits);
  return `${text.includes(".") ? text.replace(/\.?0+$/, "") : text} ${UNITS[unit]}`;
}

// One formatter per locale: `toLocaleString` builds a new one on every call, which cost most
// of a frame when 500 rows arrived at once.
const timeFormats = new Map<string | undefined, Intl.DateTimeFormat>();

export function formatTime(iso: string | null | undefined, locale?: string): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  let format = timeFormats.get(locale);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
    timeFormats.set(locale, format);
  }
  return format.format(date);
}

export function percent(fraction: number): string {
  return `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)}%`;
}

/** Words for the codes a person can act on, when the server sent no message of its own. */
const ERROR_WORDS = {
  FILE_TOO_LARGE: "This file is larger than the server accepts.",
  TOO_MANY_FILES: "Too many files in one go; send fewer at a time.",
  INVALID_UPLOAD: "The server could not accept this file.",
  UNAUTHENTICATED: "Your session has ended; log in again.",
  NOT_FOUND: "This file no longer exists.",
  RATE_LIMITED: "Too many uploads; wait a moment and try again.",
  QUOTA_EXCEEDED: "Your storage is full.",
} satisfies Partial<Record<ErrorCode, string>>;

function wordsFor(code: ErrorCode | undefined): string | undefined {
  const words: Partial<Record<ErrorCode, string>> = ERROR_WORDS;
  return code && words[code];
}

export interface GraphQLErrorLike {
  message?: string;
  extensions?: { code?: ErrorCode };
}

/** Words for a person: the server's own message when it has one, else one by code. */
export function errorMessage(errors: GraphQLErrorLike[] | undefined, status?: number): string {
  const first = errors?.[0];
  if (first?.message && first.extensions?.code !== "INTERNAL_SERVER_ERROR") return first.message;
  const words = wordsFor(first?.extensions?.code);
  if (words) return words;
  if (status === 413) return ERROR_WORDS.FILE_TOO_LARGE;
  if (status === 0) return "The connection to the server was lost.";
  return "Something went wrong on the server; try again.";
}
