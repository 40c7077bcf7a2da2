/**
 * The side panel the explanation streams into: one webview, reused, rendering the markdown
 * the server has produced so far (markdown-it, raw HTML disabled, strict CSP, no scripts
 * beyond the one that swaps the body in).
 */

import * as vscode from "vscode";
import MarkdownIt from "markdown-it";

export type PanelState = "generating" | "done" | "error" | "cancelled";

export class ExplainPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private readonly md = new MarkdownIt({ html: false, linkify: true, breaks: false });
  /** The last message, re-sent when the webview (re)loads and asks for it. */
  private last: { heading: string; body: string; state: PanelState; note: string } | undefined;

  /** Opens (or reveals) the panel beside the editor, titled for the selection. */
  open(heading: string): void {
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(
        "hearth.explain",
        "Hearth: Explain",
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        { enableScripts: true, enableFindWidget: true, retainContextWhenHidden: true },
      );
      this.panel.onDidDispose(() => {
        this.panel = undefined;
      });
      this.panel.webview.onDidReceiveMessage((message: unknown) => {
        if (message === "ready" && this.last) {
          void this.panel?.webview.postMessage(this.last);
        }
      });
      this.panel.webview.html = this.page();
    } else {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
    }
    this.update(heading, "", "generating");
  }

  /** Replaces the body with `markdown` (the full text so far, as the server streams it). */
  update(heading: string, markdown: string, state: PanelState, note?: string): void {
    if (!this.panel) {
      return;
    }
    const body = markdown ? this.md.render(markdown) : "";
    this.last = { heading, body, state, note: note ?? "" };
    void this.panel.webview.postMessage(this.last);
  }

  get visible(): boolean {
    return this.panel !== undefined;
  }

  dispose(): void {
    this.panel?.dispose();
  }

  private page(): string {
    const nonce = Array.from({ length: 4 }, () => Math.random().toString(36).slice(2)).join("");
    const csp = [
      "default-src 'none'",
      "style-src 'unsafe-inline'",
      `script-src 'nonce-${nonce}'`,
      "img-src data:",
    ].join("; ");
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style>
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size);
         color: var(--vscode-foreground); padding: 0 16px 16px; line-height: 1.5; }
  header { position: sticky; top: 0; background: var(--vscode-editor-background);
           padding: 8px 0; border-bottom: 1px solid var(--vscode-panel-border); }
  #heading { font-weight: 600; }
  #state { color: var(--vscode-descriptionForeground); margin-left: 8px; }
  body[data-state="error"] #state { color: var(--vscode-errorForeground); }
  pre { background: var(--vscode-textCodeBlock-background); padding: 8px; overflow-x: auto; }
  code { font-family: var(--vscode-editor-font-family); }
  #note { color: var(--vscode-errorForeground); white-space: pre-wrap; }
</style>
</head>
<body data-state="generating">
<header><span id="heading">Hearth</span><span id="state">Generating…</span></header>
<div id="note"></div>
<main id="hearth-explain-body"></main>
<script nonce="${nonce}">
  const labels = { generating: "Generating…", done: "", error: "Failed", cancelled: "Stopped" };
  window.addEventListener("message", (event) => {
    const m = event.data;
    document.body.dataset.state = m.state;
    document.getElementById("heading").textContent = m.heading;
    document.getElementById("state").textContent = labels[m.state] ?? "";
    document.getElementById("note").textContent = m.note;
    document.getElementById("hearth-explain-body").innerHTML = m.body;
  });
  acquireVsCodeApi().postMessage("ready");
</script>
</body>
</html>`;
  }
}
