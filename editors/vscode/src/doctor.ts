/**
 * `hearth doctor` with the editor's model settings, so it checks what the editor will load.
 * The argument mapping is pure (unit-tested); running it streams into an output channel.
 */

import { spawn } from "node:child_process";
import type { ServerCommand } from "./discovery";
import { argsFor } from "./discovery";

/** CLI flags `hearth doctor` accepts, keyed by the editor's camelCase setting. */
const DOCTOR_FLAGS: Readonly<Record<string, string>> = {
  model: "--model",
  backend: "--backend",
  threads: "--threads",
  contextLength: "--context-length",
  gpuLayers: "--gpu-layers",
};

export function doctorArgs(server: ServerCommand, settings: Record<string, unknown>): string[] {
  const args = argsFor(server, "doctor");
  for (const [key, flag] of Object.entries(DOCTOR_FLAGS)) {
    const value = settings[key];
    if (value !== undefined && value !== null && value !== "") {
      args.push(flag, String(value));
    }
  }
  return args;
}

export interface Sink {
  append(text: string): void;
}

/** Runs the doctor in `cwd` (so the workspace's hearth.toml counts); resolves to its exit code. */
export function runDoctor(
  server: ServerCommand,
  settings: Record<string, unknown>,
  cwd: string | undefined,
  env: NodeJS.ProcessEnv,
  sink: Sink,
): Promise<number | null> {
  const args = doctorArgs(server, settings);
  sink.append(`$ ${[server.command, ...args].join(" ")}\n`);
  return new Promise((resolve) => {
    const child = spawn(server.command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk: Buffer) => sink.append(chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => sink.append(chunk.toString()));
    child.on("error", (err) => {
      sink.append(`cannot run it: ${err.message}\n`);
      resolve(null);
    });
    child.on("close", (code) => {
      sink.append(`\n(exit ${code})\n`);
      resolve(code);
    });
  });
}
