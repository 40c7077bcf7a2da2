/**
 * Which editor settings reach the server, and in what shape.
 *
 * Only values the user set explicitly (user, workspace or folder settings) are forwarded:
 * sending VS Code's defaults would hide the workspace's `hearth.toml`, which the server merges
 * *before* editor settings. Pure: no `vscode` import, so unit tests run under plain node.
 */

export type SettingType = "string" | "integer" | "number" | "boolean" | "array";

/** One server setting (generated from server/hearth/settings.py). */
export interface SettingSpec {
  /** camelCase key under the `hearth.` section, as VS Code stores it. */
  readonly key: string;
  /** snake_case field name of the server's Settings dataclass. */
  readonly name: string;
  readonly type: SettingType;
  /** Unset is meaningful on the server (the editor shows it as an empty string). */
  readonly nullable: boolean;
}

/** The subset of `WorkspaceConfiguration.inspect()` the mapping reads. */
export interface Inspected {
  readonly globalValue?: unknown;
  readonly workspaceValue?: unknown;
  readonly workspaceFolderValue?: unknown;
}

export type Inspect = (key: string) => Inspected | undefined;

/** The value the user set, most specific scope first; undefined when only the default applies. */
export function explicitValue(inspected: Inspected | undefined): unknown {
  if (!inspected) {
    return undefined;
  }
  for (const value of [
    inspected.workspaceFolderValue,
    inspected.workspaceValue,
    inspected.globalValue,
  ]) {
    if (value !== undefined) {
      return value;
    }
  }
  return undefined;
}

/**
 * The settings object sent as initializationOptions and in didChangeConfiguration, camelCase
 * keys (the server accepts both spellings). Empty strings of optional settings mean "unset"
 * and are left out; so are nulls. Values are passed through as typed: the server validates
 * them and reports a bad one by name, keeping its default.
 */
export function serverSettings(
  specs: readonly SettingSpec[],
  inspect: Inspect,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of specs) {
    let value = explicitValue(inspect(spec.key));
    if (value === undefined || value === null) {
      continue;
    }
    if (typeof value === "string" && spec.type === "string") {
      value = value.trim();
      if (value === "" && spec.nullable) {
        continue;
      }
    }
    out[spec.key] = value;
  }
  return out;
}

/** Whether two settings objects differ (so a change notification is worth sending). */
export function settingsDiffer(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return JSON.stringify(sortKeys(a)) !== JSON.stringify(sortKeys(b));
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, value[k]]));
}
