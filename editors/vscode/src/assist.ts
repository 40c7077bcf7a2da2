/**
 * Explain and Review on a selection: `workspace/executeCommand` with a work-done token, whose
 * `$/progress` reports carry the full text so far. Explain streams into the side panel;
 * Review shows a cancellable notification, and its findings arrive as diagnostics (with
 * quick fixes) published by the server.
 */

import * as path from "node:path";
import * as vscode from "vscode";
import { ExecuteCommandRequest, WorkDoneProgress, type WorkDoneProgressReport, type WorkDoneProgressBegin } from "vscode-languageclient/node";
import type { AssistRunner, Ctx } from "./ctx";
import type { ExplainPanel } from "./explainPanel";
import { EXPLAIN_COMMAND, type ExplainResult, REVIEW_COMMAND, type ReviewResult, type SelectionArgs } from "./protocol";

let tokens = 0;

export class Assist implements AssistRunner {
  private explaining: vscode.CancellationTokenSource | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly panel: ExplainPanel,
  ) {}

  /** The selection of the active editor as command arguments, or undefined with a message. */
  selectionArgs(): SelectionArgs | undefined {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showInformationMessage("Hearth: open a file and select code first.");
      return undefined;
    }
    let range: vscode.Range = editor.selection;
    if (range.isEmpty) {
      // No selection: the current line, when it has code.
      const line = editor.document.lineAt(editor.selection.active.line);
      if (line.isEmptyOrWhitespace) {
        void vscode.window.showInformationMessage("Hearth: select the code to explain or review.");
        return undefined;
      }
      range = line.range;
    }
    return {
      uri: editor.document.uri.toString(),
      range: {
        start: { line: range.start.line, character: range.start.character },
        end: { line: range.end.line, character: range.end.character },
      },
    };
  }

  async explain(args: SelectionArgs): Promise<void> {
    const client = this.ctx.client;
    if (!client || !this.ctx.running) {
      void vscode.window.showWarningMessage("Hearth: the server is not running (see the status bar).");
      return;
    }
    this.explaining?.cancel();
    const source = new vscode.CancellationTokenSource();
    this.explaining = source;
    const heading = describe(args);
    this.panel.open(heading);
    const token = `hearth-explain-${++tokens}`;
    let text = "";
    const progress = client.onProgress(WorkDoneProgress.type, token, (value) => {
      const message = (value as WorkDoneProgressBegin | WorkDoneProgressReport).message;
      if (value.kind !== "end" && message && !source.token.isCancellationRequested) {
        text = message;
        this.panel.update(heading, text, "generating");
      }
    });
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: "Hearth: explaining" },
        async () => {
          const result = (await client.sendRequest(
            ExecuteCommandRequest.type,
            { command: EXPLAIN_COMMAND, arguments: [args], workDoneToken: token },
            source.token,
          )) as ExplainResult | null;
          if (!source.token.isCancellationRequested) {
            this.panel.update(heading, result?.markdown ?? text, "done");
          }
        },
      );
    } catch (err) {
      if (source.token.isCancellationRequested) {
        this.panel.update(heading, text, "cancelled");
      } else {
        const message = errorMessage(err);
        this.ctx.log.error(`explain: ${message}`);
        this.panel.update(heading, text, "error", `Hearth could not explain this: ${message}`);
      }
    } finally {
      progress.dispose();
      source.dispose();
      if (this.explaining === source) {
        this.explaining = undefined;
      }
    }
  }

  async review(args: SelectionArgs): Promise<void> {
    const client = this.ctx.client;
    if (!client || !this.ctx.running) {
      void vscode.window.showWarningMessage("Hearth: the server is not running (see the status bar).");
      return;
    }
    const token = `hearth-review-${++tokens}`;
    let result: ReviewResult | null = null;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Hearth: reviewing ${describe(args)}`, cancellable: true },
        async (progress, cancel) => {
          let seen = 0;
          const sub = client.onProgress(WorkDoneProgress.type, token, (value) => {
            const message = (value as WorkDoneProgressBegin | WorkDoneProgressReport).message;
            if (value.kind !== "end" && message && message.length > seen) {
              seen = message.length;
              progress.report({ message: `${seen} characters written` });
            }
          });
          try {
            return (await client.sendRequest(
              ExecuteCommandRequest.type,
              { command: REVIEW_COMMAND, arguments: [args], workDoneToken: token },
              cancel,
            )) as ReviewResult | null;
          } finally {
            sub.dispose();
          }
        },
      );
    } catch (err) {
      const message = errorMessage(err);
      if (!/cancel/i.test(message)) {
        this.ctx.log.error(`review: ${message}`);
        void vscode.window.showErrorMessage(`Hearth could not review this: ${message}`);
      }
      return;
    }
    const count = result?.findings?.length ?? 0;
    const summary = result?.message?.trim() || (count === 0 ? "no findings" : `${count} finding${count === 1 ? "" : "s"}`);
    void vscode.window
      .showInformationMessage(`Hearth review: ${summary}`, ...(count > 0 ? ["Show Problems"] : []))
      .then((choice) => {
        if (choice === "Show Problems") {
          void vscode.commands.executeCommand("workbench.actions.view.problems");
        }
      });
  }
}

function describe(args: SelectionArgs): string {
  const name = path.posix.basename(vscode.Uri.parse(args.uri).path);
  const a = args.range.start.line + 1;
  const b = args.range.end.character === 0 && args.range.end.line > args.range.start.line ? args.range.end.line : args.range.end.line + 1;
  return a === b ? `${name}:${a}` : `${name}:${a}-${b}`;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}
