/** Hearth's own LSP extensions (see the shared contract): types in one place. */

export const STATUS_REQUEST = "hearth/status";
export const EXPLAIN_COMMAND = "hearth.explain";
export const REVIEW_COMMAND = "hearth.review";
export const SUGGESTION_SHOWN = "hearth/suggestionShown";
export const SUGGESTION_ACCEPTED = "hearth/suggestionAccepted";

export type ModelState = "off" | "loading" | "ready" | "error";

export interface ServerStatus {
  readonly index?: {
    readonly state?: string;
    readonly files?: number;
    readonly warning?: string | null;
    readonly [key: string]: unknown;
  };
  readonly model?: {
    readonly state?: ModelState;
    readonly message?: string | null;
    readonly path?: string | null;
    readonly backend?: string | null;
    /** A non-loopback inference server the code is sent to (backend = "http"). */
    readonly remote?: string | null;
  };
  readonly busy?: boolean;
}

export interface LspPosition {
  readonly line: number;
  readonly character: number;
}

export interface LspRange {
  readonly start: LspPosition;
  readonly end: LspPosition;
}

export interface SelectionArgs {
  readonly uri: string;
  readonly range: LspRange;
}

export interface ExplainResult {
  readonly markdown: string;
}

export interface Finding {
  readonly range: LspRange;
  readonly severity: "error" | "warning" | "info" | "hint";
  readonly category: string;
  readonly message: string;
  readonly replacement: string | null;
}

export interface ReviewResult {
  readonly findings: readonly Finding[];
  readonly message: string;
}
