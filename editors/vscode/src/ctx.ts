/**
 * The extension's state: the discovered server, the language client (client-lifetime
 * disposables, recreated on restart) and what lives as long as the extension (output
 * channel, status bar, panel).
 */

import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  type LanguageClientOptions,
  LanguageClient,
  type Middleware,
  RevealOutputChannelOn,
  type ServerOptions,
  State,
} from "vscode-languageclient/node";
import { type Discovery, type DiscoveryDeps, type RunResult, type ServerCommand, argsFor, discoverServer } from "./discovery";
import { SERVER_SETTINGS } from "./generated/serverSettings";
import { EXPLAIN_COMMAND, REVIEW_COMMAND, STATUS_REQUEST, type SelectionArgs, type ServerStatus } from "./protocol";
import { serverSettings, settingsDiffer } from "./settings";
import { type ClientFacts, describeStatus } from "./status";

export const SECTION = "hearth";
/** The server's own switch for inline completion; the toggle command flips it. */
export const ENABLE_KEY = "completionEnabled";

export interface AssistRunner {
  explain(args: SelectionArgs): Promise<void>;
  review(args: SelectionArgs): Promise<void>;
}

export class Ctx implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly statusItem: vscode.StatusBarItem;
  client: LanguageClient | undefined;
  server: ServerCommand | undefined;
  discovery: Discovery | undefined;
  assist: AssistRunner | undefined;
  private status: ServerStatus | undefined;
  private lastError: string | undefined;
  private sentSettings: Record<string, unknown> = {};
  private poll: NodeJS.Timeout | undefined;
  private readonly extensionDisposables: vscode.Disposable[] = [];
  private clientDisposables: vscode.Disposable[] = [];

  constructor(readonly extension: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel("Hearth", { log: true });
    this.statusItem = vscode.window.createStatusBarItem("hearth.status", vscode.StatusBarAlignment.Right, 100);
    this.statusItem.name = "Hearth";
    this.statusItem.command = "hearth.showMenu";
    this.statusItem.show();
    this.extensionDisposables.push(
      this.log,
      this.statusItem,
      vscode.workspace.onDidChangeConfiguration((e) => this.onConfigChanged(e)),
    );
    this.render();
  }

  get enabled(): boolean {
    return vscode.workspace.getConfiguration(SECTION).get<boolean>(ENABLE_KEY, true);
  }

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  get workspaceFolder(): string | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  }

  /** The settings forwarded to the server (only what the user set explicitly). */
  currentSettings(): Record<string, unknown> {
    const config = vscode.workspace.getConfiguration(SECTION);
    return serverSettings(SERVER_SETTINGS, (key) => config.inspect(key));
  }

  /**
   * The server's environment. PYTHONSAFEPATH keeps `python -m hearth` from putting its working
   * directory first on sys.path, where a workspace file such as `numbers.py` would shadow the
   * standard library (Python 3.11+; the server also runs outside the workspace, see start()).
   */
  serverEnv(): NodeJS.ProcessEnv {
    const extra = vscode.workspace.getConfiguration(SECTION).get<Record<string, string>>("server.extraEnv", {});
    return { ...process.env, PYTHONSAFEPATH: "1", ...extra };
  }

  async start(): Promise<void> {
    this.lastError = undefined;
    this.discovery = await discoverServer(
      vscode.workspace.getConfiguration(SECTION).get<string>("server.path", ""),
      nodeDiscoveryDeps(this.serverEnv(), this.extension.extensionPath),
      this.workspaceFolder,
    );
    if (!this.discovery.ok) {
      this.server = undefined;
      this.log.error(`server not found: ${this.discovery.reason}`);
      this.render();
      void this.offerInstall(this.discovery.reason);
      return;
    }
    this.server = this.discovery.server;
    this.log.info(`starting ${this.server.command} ${argsFor(this.server, "serve").join(" ")} (${this.server.version}, from ${this.server.source})`);
    const serverOptions: ServerOptions = {
      command: this.server.command,
      args: argsFor(this.server, "serve"),
      // Not the workspace: with `python -m`, its files could shadow modules. The server
      // learns the workspace from initialize.
      options: { env: this.serverEnv(), cwd: this.extension.extensionPath },
    };
    this.sentSettings = this.currentSettings();
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      outputChannel: this.log,
      traceOutputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: this.sentSettings,
      middleware: this.middleware(),
      initializationFailedHandler: (error) => {
        this.lastError = error instanceof Error ? error.message : String(error);
        this.log.error(`initialization failed: ${this.lastError}`);
        this.render();
        return false;
      },
    };
    const client = new LanguageClient("hearth", "Hearth", serverOptions, clientOptions);
    this.client = client;
    this.clientDisposables.push(
      client.onDidChangeState((e) => {
        void vscode.commands.executeCommand("setContext", "hearth.running", e.newState === State.Running);
        if (e.newState === State.Stopped && this.client === client && !this.lastError) {
          this.lastError = "the server exited (see the log)";
        }
        this.render();
      }),
    );
    this.render();
    try {
      await client.start();
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.log.error(`cannot start the server: ${this.lastError}`);
      this.render();
      return;
    }
    this.lastError = undefined;
    this.startPolling();
    this.render();
  }

  async stop(): Promise<void> {
    this.stopPolling();
    const client = this.client;
    this.client = undefined;
    for (const d of this.clientDisposables.splice(0)) {
      d.dispose();
    }
    if (client && client.state !== State.Stopped) {
      try {
        await client.stop(5000);
      } catch (err) {
        this.log.warn(`stopping the server: ${String(err)}`);
      }
    }
    this.status = undefined;
    void vscode.commands.executeCommand("setContext", "hearth.running", false);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  facts(): ClientFacts {
    return {
      running: this.running,
      notFound: this.discovery && !this.discovery.ok ? this.discovery.reason : undefined,
      enabled: this.enabled,
      error: this.lastError,
      version: this.server?.version,
    };
  }

  render(): void {
    const view = describeStatus(this.facts(), this.status);
    this.statusItem.text = view.text;
    this.statusItem.tooltip = view.tooltip;
    this.statusItem.backgroundColor = view.background ? new vscode.ThemeColor(view.background) : undefined;
  }

  async refreshStatus(): Promise<ServerStatus | undefined> {
    const client = this.client;
    if (!client || client.state !== State.Running) {
      return undefined;
    }
    try {
      this.status = await client.sendRequest<ServerStatus>(STATUS_REQUEST);
    } catch (err) {
      this.log.debug(`hearth/status: ${String(err)}`);
    }
    this.render();
    return this.status;
  }

  private startPolling(): void {
    this.stopPolling();
    const tick = async (): Promise<void> => {
      const status = await this.refreshStatus();
      const settling =
        status?.model?.state === "loading" || status?.index?.state === "indexing" || status?.index?.state === "starting" || status?.busy;
      if (this.client) {
        this.poll = setTimeout(() => void tick(), settling ? 700 : 3000);
      }
    };
    void tick();
  }

  private stopPolling(): void {
    if (this.poll) {
      clearTimeout(this.poll);
      this.poll = undefined;
    }
  }

  private middleware(): Middleware {
    return {
      provideInlineCompletionItems: (document, position, context, token, next) => {
        // Off means no suggestions while typing; an explicit trigger still asks.
        if (!this.enabled && context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic) {
          return undefined;
        }
        return next(document, position, context, token);
      },
      executeCommand: async (command, args, next) => {
        // Code actions "Hearth: Explain/Review" land here: give them the panel and progress.
        const first = args[0] as SelectionArgs | undefined;
        if (this.assist && first && command === EXPLAIN_COMMAND) {
          return this.assist.explain(first);
        }
        if (this.assist && first && command === REVIEW_COMMAND) {
          return this.assist.review(first);
        }
        return next(command, args);
      },
      workspace: {
        configuration: (params, token, next) => {
          // Pulled configuration gets the same shape as initializationOptions.
          if (params.items.every((item) => item.section === SECTION)) {
            return params.items.map(() => this.currentSettings());
          }
          return next(params, token);
        },
      },
    };
  }

  private onConfigChanged(e: vscode.ConfigurationChangeEvent): void {
    if (!e.affectsConfiguration(SECTION)) {
      return;
    }
    if (e.affectsConfiguration("hearth.server.path") || e.affectsConfiguration("hearth.server.extraEnv")) {
      this.log.info("server settings changed: restarting");
      void this.restart();
      return;
    }
    this.render();
    const next = this.currentSettings();
    if (this.client && this.running && settingsDiffer(next, this.sentSettings)) {
      this.sentSettings = next;
      void this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [SECTION]: next },
      });
    }
  }

  private async offerInstall(reason: string): Promise<void> {
    const choice = await vscode.window.showWarningMessage(
      `Hearth: cannot start the server: ${reason}. Install it with \`pip install hearth\` (or from a clone: \`pip install .\`), then set hearth.server.path or put \`hearth\` on PATH.`,
      "Open Docs",
      "Set Path",
      "Retry",
    );
    if (choice === "Open Docs") {
      await vscode.commands.executeCommand("hearth.openDocs");
    } else if (choice === "Set Path") {
      await vscode.commands.executeCommand("workbench.action.openSettings", "hearth.server.path");
    } else if (choice === "Retry") {
      await this.restart();
    }
  }

  dispose(): void {
    void this.stop();
    for (const d of this.extensionDisposables.splice(0)) {
      d.dispose();
    }
  }
}

/** Real file system and processes for discovery (10 s per `--version` probe). */
export function nodeDiscoveryDeps(env: NodeJS.ProcessEnv, cwd: string): DiscoveryDeps {
  return {
    isFile: (p) => {
      try {
        return fs.statSync(p).isFile();
      } catch {
        return false;
      }
    },
    run: (command, args) =>
      new Promise<RunResult>((resolve) => {
        execFile(command, [...args], { env, cwd, timeout: 10_000, windowsHide: true }, (error, stdout, stderr) => {
          const code = error && typeof error.code === "number" ? error.code : error ? null : 0;
          const spawnError = error && typeof error.code === "string" ? error.code : undefined;
          resolve({ code, stdout: String(stdout), stderr: String(stderr), error: spawnError });
        });
      }),
    env,
    platform: process.platform,
    homedir: os.homedir(),
  };
}
