/**
 * What the status bar says for a server state. Pure, so every state is unit-tested; the
 * `vscode` side (statusBar.ts) only copies these fields onto the item.
 */

import type { ServerStatus } from "./protocol";

export type Phase =
  | "starting"
  | "not-found"
  | "stopped"
  | "loading"
  | "indexing"
  | "busy"
  | "ready"
  | "error";

export interface StatusView {
  readonly phase: Phase;
  /** Status bar text with a codicon, e.g. "$(loading~spin) Hearth: loading model". */
  readonly text: string;
  readonly tooltip: string;
  /** Background colour theme key for problems; undefined for the normal look. */
  readonly background?: "statusBarItem.errorBackground" | "statusBarItem.warningBackground";
}

export interface ClientFacts {
  /** The language client is running (false before start and after a crash or stop). */
  readonly running: boolean;
  /** Discovery failed: the reason, shown as the error. */
  readonly notFound?: string;
  /** Inline suggestions are switched on (hearth.completionEnabled). */
  readonly enabled: boolean;
  /** Last error starting or talking to the server. */
  readonly error?: string;
  /** What `--version` printed. */
  readonly version?: string;
}

export function describeStatus(facts: ClientFacts, status: ServerStatus | undefined): StatusView {
  const off = facts.enabled ? "" : " (suggestions off)";
  const icon = facts.enabled ? "$(sparkle)" : "$(circle-slash)";
  if (facts.notFound) {
    return {
      phase: "not-found",
      text: "$(error) Hearth",
      tooltip: `Hearth server not found: ${facts.notFound}. Click for options.`,
      background: "statusBarItem.errorBackground",
    };
  }
  if (facts.error && !facts.running) {
    return {
      phase: "error",
      text: "$(error) Hearth",
      tooltip: `Hearth stopped: ${facts.error}. Click to restart or see the log.`,
      background: "statusBarItem.errorBackground",
    };
  }
  if (!facts.running) {
    return { phase: "starting", text: "$(loading~spin) Hearth", tooltip: "Hearth: starting the server" };
  }
  const model = status?.model;
  const index = status?.index;
  const where = facts.version ? `\n${facts.version}` : "";
  const modelLine = model?.path ? `\nModel: ${model.path}${model.backend ? ` (${model.backend})` : ""}` : "";
  const remoteLine = model?.remote ? `\nRemote inference server: ${model.remote} (your code is sent there)` : "";
  if (model?.state === "error") {
    return {
      phase: "error",
      text: `$(warning) Hearth`,
      tooltip: `Hearth: the model failed: ${model.message ?? "see the log"}${modelLine}${where}`,
      background: "statusBarItem.warningBackground",
    };
  }
  if (model?.state === "loading") {
    const detail = model.message ? `: ${model.message}` : "";
    return {
      phase: "loading",
      text: `$(loading~spin) Hearth: loading model${model.message ? ` ${short(model.message)}` : ""}`,
      tooltip: `Hearth is loading the model${detail}${modelLine}${where}`,
    };
  }
  if (index?.state === "indexing") {
    const files = typeof index.files === "number" ? ` ${index.files} files` : "";
    return {
      phase: "indexing",
      text: `$(sync~spin) Hearth: indexing${files}`,
      tooltip: `Hearth is indexing the workspace${files ? ` (${files.trim()} so far)` : ""}${modelLine}${where}`,
    };
  }
  if (status?.busy) {
    return {
      phase: "busy",
      text: `$(loading~spin) Hearth${off}`,
      tooltip: `Hearth is generating${modelLine}${remoteLine}${where}`,
    };
  }
  const warning = index?.warning ? `\nIndex: ${index.warning}` : "";
  return {
    phase: "ready",
    text: model?.remote ? `${icon} Hearth $(globe)` : `${icon} Hearth`,
    tooltip: `Hearth is ready${off}${modelLine}${remoteLine}${warning}${where}\nClick for actions.`,
  };
}

function short(message: string): string {
  return message.length > 24 ? `${message.slice(0, 23)}…` : message;
}
