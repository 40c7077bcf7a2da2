/** Entry point: builds the context, registers commands, starts the server. */

import type * as vscode from "vscode";
import { Assist } from "./assist";
import { registerCommands } from "./commands";
import { Ctx } from "./ctx";
import { ExplainPanel } from "./explainPanel";

let ctx: Ctx | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  ctx = new Ctx(context);
  const panel = new ExplainPanel();
  const assist = new Assist(ctx, panel);
  ctx.assist = assist;
  context.subscriptions.push(ctx, panel, ...registerCommands(ctx, assist));
  await ctx.start();
}

export async function deactivate(): Promise<void> {
  await ctx?.stop();
  ctx = undefined;
}
