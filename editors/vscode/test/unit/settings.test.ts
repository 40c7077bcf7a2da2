import assert from "node:assert/strict";
import { test } from "node:test";
import { SERVER_SETTINGS } from "../../src/generated/serverSettings";
import { type Inspected, type SettingSpec, explicitValue, serverSettings, settingsDiffer } from "../../src/settings";

const SPECS: SettingSpec[] = [
  { key: "model", name: "model", type: "string", nullable: true },
  { key: "backend", name: "backend", type: "string", nullable: false },
  { key: "maxTokens", name: "max_tokens", type: "integer", nullable: false },
  { key: "temperature", name: "temperature", type: "number", nullable: false },
  { key: "indexExclude", name: "index_exclude", type: "array", nullable: false },
];

function inspector(values: Record<string, Inspected>): (key: string) => Inspected | undefined {
  return (key) => values[key];
}

test("explicitValue: folder beats workspace beats user; defaults alone are undefined", () => {
  assert.equal(explicitValue(undefined), undefined);
  assert.equal(explicitValue({}), undefined);
  assert.equal(explicitValue({ globalValue: 1 }), 1);
  assert.equal(explicitValue({ globalValue: 1, workspaceValue: 2 }), 2);
  assert.equal(explicitValue({ globalValue: 1, workspaceValue: 2, workspaceFolderValue: 3 }), 3);
  assert.equal(explicitValue({ workspaceValue: 0, globalValue: 5 }), 0, "0 is a value, not unset");
  assert.equal(explicitValue({ workspaceValue: false }), false);
});

test("serverSettings forwards only what the user set, camelCase, typed as set", () => {
  const out = serverSettings(
    SPECS,
    inspector({
      model: { globalValue: "/models/a.gguf" },
      maxTokens: { workspaceValue: 32, globalValue: 99 },
      temperature: { globalValue: 0 },
      indexExclude: { workspaceValue: ["*.lock"] },
    }),
  );
  assert.deepEqual(out, { model: "/models/a.gguf", maxTokens: 32, temperature: 0, indexExclude: ["*.lock"] });
});

test("serverSettings: nothing set sends nothing, so the workspace hearth.toml still applies", () => {
  assert.deepEqual(serverSettings(SPECS, () => undefined), {});
  assert.deepEqual(serverSettings(SPECS, () => ({})), {});
});

test("serverSettings: empty or blank optional strings and nulls mean unset", () => {
  const out = serverSettings(
    SPECS,
    inspector({ model: { globalValue: "   " }, backend: { globalValue: null }, maxTokens: { globalValue: undefined } }),
  );
  assert.deepEqual(out, {});
});

test("serverSettings trims strings and keeps a required empty string for the server to reject", () => {
  const out = serverSettings(SPECS, inspector({ model: { globalValue: " m.gguf " }, backend: { globalValue: "" } }));
  assert.deepEqual(out, { model: "m.gguf", backend: "" });
});

test("serverSettings passes bad types through: the server names the key in its error", () => {
  const out = serverSettings(SPECS, inspector({ maxTokens: { globalValue: "lots" } }));
  assert.deepEqual(out, { maxTokens: "lots" });
});

test("settingsDiffer ignores key order", () => {
  assert.equal(settingsDiffer({ a: 1, b: [1] }, { b: [1], a: 1 }), false);
  assert.equal(settingsDiffer({ a: 1 }, { a: 2 }), true);
  assert.equal(settingsDiffer({ a: 1 }, {}), true);
});

test("the generated spec mirrors the server's Settings fields", () => {
  const keys = SERVER_SETTINGS.map((s) => s.key);
  // completionEnabled: the toggle command flips it.
  for (const key of ["completionEnabled", "model", "chatModel", "backend", "threads", "gpuLayers", "contextLength", "maxTokens", "timeBudgetMs"]) {
    assert.ok(keys.includes(key), `${key} missing from the generated settings`);
  }
  for (const spec of SERVER_SETTINGS) {
    assert.equal(spec.key, spec.name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
  }
  assert.equal(new Set(keys).size, keys.length);
});
