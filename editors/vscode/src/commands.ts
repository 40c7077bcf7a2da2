/** Every command, registered from one factory map. */

import * as vscode from "vscode";
import type { Assist } from "./assist";
import { type Ctx, ENABLE_KEY, SECTION } from "./ctx";
import { runDoctor } from "./doctor";

type Factory = (ctx: Ctx, assist: Assist) => (...args: unknown[]) => unknown;

let doctorChannel: vscode.OutputChannel | undefined;

const COMMANDS: Readonly<Record<string, Factory>> = {
  "hearth.triggerSuggestion": () => () => vscode.commands.executeCommand("editor.action.inlineSuggest.trigger"),

  "hearth.toggle": (ctx) => async () => {
    const config = vscode.workspace.getConfiguration(SECTION);
    const next = !ctx.enabled;
    // Where the user set it, or user settings otherwise.
    const inspected = config.inspect<boolean>(ENABLE_KEY);
    const target =
      inspected?.workspaceFolderValue !== undefined
        ? vscode.ConfigurationTarget.WorkspaceFolder
        : inspected?.workspaceValue !== undefined
          ? vscode.ConfigurationTarget.Workspace
          : vscode.ConfigurationTarget.Global;
    await config.update(ENABLE_KEY, next, target);
    if (!next) {
      await vscode.commands.executeCommand("editor.action.inlineSuggest.hide");
    }
    vscode.window.setStatusBarMessage(`Hearth: inline suggestions ${next ? "on" : "off"}`, 2500);
  },

  "hearth.explainSelection": (_ctx, assist) => async () => {
    const args = assist.selectionArgs();
    if (args) {
      await assist.explain(args);
    }
  },

  "hearth.reviewSelection": (_ctx, assist) => async () => {
    const args = assist.selectionArgs();
    if (args) {
      await assist.review(args);
    }
  },

  "hearth.showLog": (ctx) => () => ctx.log.show(true),

  "hearth.restart": (ctx) => () => ctx.restart(),

  "hearth.openDocs": (ctx) => () =>
    vscode.commands.executeCommand("markdown.showPreview", vscode.Uri.joinPath(ctx.extension.extensionUri, "README.md")),

  "hearth.doctor": (ctx) => async () => {
    if (!ctx.server) {
      void vscode.window.showWarningMessage("Hearth: no server found, so no doctor to run (see Hearth: Show Server Log).");
      return;
    }
    doctorChannel ??= vscode.window.createOutputChannel("Hearth Doctor");
    doctorChannel.clear();
    doctorChannel.show(true);
    const channel = doctorChannel;
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: "Hearth: running doctor" },
      () => runDoctor(ctx.server!, ctx.currentSettings(), ctx.workspaceFolder, ctx.serverEnv(), { append: (t) => channel.append(t) }),
    );
  },

  "hearth.showMenu": (ctx) => async () => {
    await ctx.refreshStatus();
    const view = ctx.statusItem.tooltip;
    type Item = vscode.QuickPickItem & { command?: string };
    const items: Item[] = [];
    if (ctx.running) {
      items.push(
        { label: "$(lightbulb-sparkle) Trigger Suggestion", description: "Alt+\\", command: "hearth.triggerSuggestion" },
        { label: ctx.enabled ? "$(circle-slash) Turn Inline Suggestions Off" : "$(sparkle) Turn Inline Suggestions On", command: "hearth.toggle" },
        { label: "$(book) Explain Selection", command: "hearth.explainSelection" },
        { label: "$(checklist) Review Selection", command: "hearth.reviewSelection" },
      );
    } else if (!ctx.server) {
      items.push({ label: "$(book) How to Install the Server", command: "hearth.openDocs" });
    }
    items.push(
      { label: "", kind: vscode.QuickPickItemKind.Separator },
      { label: "$(output) Show Server Log", command: "hearth.showLog" },
      { label: "$(pulse) Run hearth doctor", description: "checks this machine and the model", command: "hearth.doctor" },
      { label: "$(debug-restart) Restart Server", command: "hearth.restart" },
      { label: "$(settings-gear) Settings", command: "hearth.openSettings" },
    );
    const picked = await vscode.window.showQuickPick(items, {
      title: "Hearth",
      placeHolder: typeof view === "string" ? view.split("\n")[0] : undefined,
    });
    if (picked?.command) {
      await vscode.commands.executeCommand(picked.command);
    }
  },

  "hearth.openSettings": () => () => vscode.commands.executeCommand("workbench.action.openSettings", "@ext:hearth.hearth"),
};

export function registerCommands(ctx: Ctx, assist: Assist): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([name, factory]) => vscode.commands.registerCommand(name, factory(ctx, assist)));
}
