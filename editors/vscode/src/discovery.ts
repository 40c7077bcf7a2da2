/**
 * Finding the `hearth` server: the `hearth.server.path` setting (a `hearth` command or a Python
 * interpreter with Hearth installed), else `hearth` on PATH. Each candidate is proved with
 * `--version` before it is used, so "nothing attaches" always comes with the reason.
 * Pure: the file system and process calls are injected, so unit tests run under plain node.
 */

import * as path from "node:path";

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the process could not be started at all (ENOENT, EACCES...). */
  readonly error?: string;
}

export interface DiscoveryDeps {
  isFile(p: string): boolean;
  run(command: string, args: readonly string[]): Promise<RunResult>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly platform: string;
  readonly homedir: string;
}

/** How to start the server and its tools: `command ...prefix serve`. */
export interface ServerCommand {
  readonly command: string;
  /** Arguments before the hearth subcommand: `[]` for `hearth`, `["-m", "hearth"]` for Python. */
  readonly prefix: readonly string[];
  readonly kind: "hearth" | "python";
  readonly source: "setting" | "path";
  /** What `--version` printed, e.g. "hearth 0.1.0". */
  readonly version: string;
}

export interface Attempt {
  readonly candidate: string;
  readonly problem: string;
}

export type Discovery =
  | { readonly ok: true; readonly server: ServerCommand; readonly tried: readonly Attempt[] }
  | { readonly ok: false; readonly reason: string; readonly tried: readonly Attempt[] };

const PYTHON_NAME = /^(python|pypy)(\d+(\.\d+)?)?(\.exe)?$/i;
const VERSION_LINE = /^hearth \S+/m;

export function looksLikePython(file: string): boolean {
  return PYTHON_NAME.test(path.basename(file));
}

/** `~`, `${userHome}` and `${workspaceFolder}` expanded; relative paths resolved in the workspace. */
export function expandPath(raw: string, homedir: string, workspaceFolder?: string): string {
  let p = raw.trim();
  if (p === "~" || p.startsWith("~/") || p.startsWith("~\\")) {
    p = homedir + p.slice(1);
  }
  p = p.replace(/\$\{userHome\}/g, homedir);
  if (workspaceFolder !== undefined) {
    p = p.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
    if (!path.isAbsolute(p) && (p.includes("/") || p.includes("\\"))) {
      p = path.resolve(workspaceFolder, p);
    }
  }
  return p;
}

/** Every `hearth` executable on PATH, in PATH order. */
export function onPath(name: string, deps: DiscoveryDeps): string[] {
  const windows = deps.platform === "win32";
  const pathVar = deps.env.PATH ?? deps.env.Path ?? "";
  const exts = windows ? (deps.env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";").concat([""]) : [""];
  const found: string[] = [];
  for (const dir of pathVar.split(windows ? ";" : ":")) {
    if (!dir) {
      continue;
    }
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext.toLowerCase());
      if (deps.isFile(candidate) && !found.includes(candidate)) {
        found.push(candidate);
      }
    }
  }
  return found;
}

async function probe(
  command: string,
  prefix: readonly string[],
  deps: DiscoveryDeps,
): Promise<{ version: string } | { problem: string }> {
  const result = await deps.run(command, [...prefix, "--version"]);
  if (result.error) {
    return { problem: `cannot run it (${result.error})` };
  }
  const text = `${result.stdout}\n${result.stderr}`;
  const match = VERSION_LINE.exec(text);
  if (result.code === 0 && match) {
    return { version: match[0].trim() };
  }
  if (prefix.length > 0 && /No module named hearth/.test(text)) {
    return { problem: "this Python has no Hearth installed (pip install hearth)" };
  }
  const said = text.trim().split(/\r?\n/).slice(-1)[0] ?? "";
  return {
    problem: `\`${[command, ...prefix, "--version"].join(" ")}\` exited ${result.code}${said ? `: ${said}` : ""}`,
  };
}

async function tryCandidate(
  file: string,
  source: ServerCommand["source"],
  deps: DiscoveryDeps,
): Promise<{ server: ServerCommand } | { problem: string }> {
  if (!deps.isFile(file)) {
    return { problem: "no such file" };
  }
  const kind: ServerCommand["kind"] = looksLikePython(file) ? "python" : "hearth";
  const prefix = kind === "python" ? ["-m", "hearth"] : [];
  const probed = await probe(file, prefix, deps);
  if ("problem" in probed) {
    return probed;
  }
  return { server: { command: file, prefix, kind, source, version: probed.version } };
}

/**
 * The server to start. An explicit setting that does not work is an error (not silently
 * replaced by whatever is on PATH): the user asked for that one.
 */
export async function discoverServer(
  setting: string | undefined,
  deps: DiscoveryDeps,
  workspaceFolder?: string,
): Promise<Discovery> {
  const tried: Attempt[] = [];
  const configured = (setting ?? "").trim();
  if (configured) {
    const file = expandPath(configured, deps.homedir, workspaceFolder);
    const result = await tryCandidate(file, "setting", deps);
    if ("server" in result) {
      return { ok: true, server: result.server, tried };
    }
    tried.push({ candidate: file, problem: result.problem });
    return {
      ok: false,
      reason: `hearth.server.path is ${configured}, which does not work: ${result.problem}`,
      tried,
    };
  }
  const candidates = onPath("hearth", deps);
  for (const file of candidates) {
    const result = await tryCandidate(file, "path", deps);
    if ("server" in result) {
      return { ok: true, server: result.server, tried };
    }
    tried.push({ candidate: file, problem: result.problem });
  }
  const reason =
    candidates.length === 0
      ? "the `hearth` command is not on PATH and hearth.server.path is not set"
      : `no working \`hearth\` on PATH (${tried.map((t) => `${t.candidate}: ${t.problem}`).join("; ")})`;
  return { ok: false, reason, tried };
}

/** The argument list for a hearth subcommand, e.g. `argsFor(server, "serve")`. */
export function argsFor(server: ServerCommand, ...sub: string[]): string[] {
  return [...server.prefix, ...sub];
}
