import assert from "node:assert/strict";
import { test } from "node:test";
import { doctorArgs } from "../../src/doctor";
import { type ClientFacts, describeStatus } from "../../src/status";

const RUNNING: ClientFacts = { running: true, enabled: true, version: "hearth 0.1.0" };

test("status: starting, not found, crashed", () => {
  assert.equal(describeStatus({ running: false, enabled: true }, undefined).phase, "starting");
  const missing = describeStatus({ running: false, enabled: true, notFound: "not on PATH" }, undefined);
  assert.equal(missing.phase, "not-found");
  assert.match(missing.tooltip, /not on PATH/);
  assert.equal(missing.background, "statusBarItem.errorBackground");
  const crashed = describeStatus({ running: false, enabled: true, error: "exited" }, undefined);
  assert.equal(crashed.phase, "error");
});

test("status: loading model shows its progress message", () => {
  const view = describeStatus(RUNNING, { model: { state: "loading", message: "42%", path: "/m.gguf" } });
  assert.equal(view.phase, "loading");
  assert.match(view.text, /loading model 42%/);
  assert.match(view.tooltip, /\/m\.gguf/);
});

test("status: indexing with a file count, then busy, then ready", () => {
  assert.match(describeStatus(RUNNING, { index: { state: "indexing", files: 12 } }).text, /indexing 12 files/);
  assert.equal(describeStatus(RUNNING, { index: { state: "ready" }, model: { state: "ready" }, busy: true }).phase, "busy");
  const ready = describeStatus(RUNNING, { index: { state: "ready" }, model: { state: "ready", path: "/m.gguf", backend: "llamacpp" } });
  assert.equal(ready.phase, "ready");
  assert.equal(ready.text, "$(sparkle) Hearth");
  assert.match(ready.tooltip, /\/m\.gguf \(llamacpp\)/);
});

test("status: a model error is a warning with the server's message", () => {
  const view = describeStatus(RUNNING, { model: { state: "error", message: "file is truncated" } });
  assert.equal(view.phase, "error");
  assert.match(view.tooltip, /file is truncated/);
  assert.equal(view.background, "statusBarItem.warningBackground");
});

test("status: suggestions switched off show in the item", () => {
  const view = describeStatus({ ...RUNNING, enabled: false }, { model: { state: "ready" } });
  assert.equal(view.text, "$(circle-slash) Hearth");
  assert.match(view.tooltip, /suggestions off/);
});

test("status: a server that predates model status still reads as ready", () => {
  assert.equal(describeStatus(RUNNING, { index: { state: "ready" } }).phase, "ready");
  assert.equal(describeStatus(RUNNING, undefined).phase, "ready");
});

test("doctor gets the editor's model settings as flags", () => {
  const server = { command: "/v/bin/python", prefix: ["-m", "hearth"], kind: "python", source: "setting", version: "hearth 0.1.0" } as const;
  assert.deepEqual(doctorArgs(server, {}), ["-m", "hearth", "doctor"]);
  assert.deepEqual(doctorArgs(server, { model: "/m.gguf", threads: 0, gpuLayers: 8, maxTokens: 3 }), [
    "-m", "hearth", "doctor", "--model", "/m.gguf", "--threads", "0", "--gpu-layers", "8",
  ]);
});

test("status: a remote inference server is marked in the item and named in the tooltip", () => {
  const model = { state: "ready" as const, path: "http://gpu.lan:8080", backend: "http", remote: "http://gpu.lan:8080" };
  const view = describeStatus(RUNNING, { index: { state: "ready" }, model });
  assert.equal(view.text, "$(sparkle) Hearth $(globe)");
  assert.match(view.tooltip, /Remote inference server: http:\/\/gpu\.lan:8080 \(your code is sent there\)/);
  const local = describeStatus(RUNNING, { index: { state: "ready" }, model: { ...model, remote: null } });
  assert.equal(local.text, "$(sparkle) Hearth");
});
