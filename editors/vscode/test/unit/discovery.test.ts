import assert from "node:assert/strict";
import { test } from "node:test";
import { type DiscoveryDeps, type RunResult, argsFor, discoverServer, expandPath, looksLikePython, onPath } from "../../src/discovery";

interface FakeProgram {
  /** What `--version` (or `-m hearth --version`) prints; undefined: the run fails. */
  readonly output?: RunResult;
}

function fake(programs: Record<string, FakeProgram>, env: Record<string, string> = {}, platform = "linux"): DiscoveryDeps & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    isFile: (p) => p in programs,
    run: async (command, args) => {
      calls.push([command, ...args].join(" "));
      return programs[command]?.output ?? { code: null, stdout: "", stderr: "", error: "ENOENT" };
    },
    env,
    platform,
    homedir: "/home/u",
  };
}

const HEARTH_OK: FakeProgram = { output: { code: 0, stdout: "hearth 0.1.0\n", stderr: "" } };
const PY_WITH_HEARTH: FakeProgram = { output: { code: 0, stdout: "hearth 0.1.0\n", stderr: "" } };
const PY_WITHOUT: FakeProgram = {
  output: { code: 1, stdout: "", stderr: "/usr/bin/python3: No module named hearth\n" },
};

test("a setting naming the hearth command is used as is", async () => {
  const deps = fake({ "/opt/venv/bin/hearth": HEARTH_OK }, { PATH: "/usr/bin" });
  const found = await discoverServer("/opt/venv/bin/hearth", deps);
  assert.ok(found.ok);
  assert.deepEqual(found.server, {
    command: "/opt/venv/bin/hearth",
    prefix: [],
    kind: "hearth",
    source: "setting",
    version: "hearth 0.1.0",
  });
  assert.deepEqual(argsFor(found.server, "serve"), ["serve"]);
  assert.deepEqual(deps.calls, ["/opt/venv/bin/hearth --version"]);
});

test("a setting naming a Python interpreter runs python -m hearth", async () => {
  const deps = fake({ "/opt/venv/bin/python3.11": PY_WITH_HEARTH });
  const found = await discoverServer("/opt/venv/bin/python3.11", deps);
  assert.ok(found.ok);
  assert.equal(found.server.kind, "python");
  assert.deepEqual(argsFor(found.server, "serve"), ["-m", "hearth", "serve"]);
  assert.deepEqual(deps.calls, ["/opt/venv/bin/python3.11 -m hearth --version"]);
});

test("a Python without Hearth is an error that says so, with no fallback to PATH", async () => {
  const deps = fake({ "/usr/bin/python3": PY_WITHOUT, "/usr/local/bin/hearth": HEARTH_OK }, { PATH: "/usr/local/bin" });
  const found = await discoverServer("/usr/bin/python3", deps);
  assert.equal(found.ok, false);
  assert.match(found.ok ? "" : found.reason, /hearth\.server\.path is \/usr\/bin\/python3.*no Hearth installed/);
});

test("a setting pointing nowhere is an error naming the path", async () => {
  const found = await discoverServer("~/missing/hearth", fake({}));
  assert.equal(found.ok, false);
  assert.match(found.ok ? "" : found.reason, /~\/missing\/hearth.*no such file/);
  assert.deepEqual(found.tried, [{ candidate: "/home/u/missing/hearth", problem: "no such file" }]);
});

test("a program that is not hearth is rejected with what it printed", async () => {
  const deps = fake({ "/usr/bin/hearth": { output: { code: 2, stdout: "", stderr: "usage: something else\n" } } });
  const found = await discoverServer("/usr/bin/hearth", deps);
  assert.equal(found.ok, false);
  assert.match(found.ok ? "" : found.reason, /exited 2: usage: something else/);
});

test("without a setting, the first working hearth on PATH wins", async () => {
  const deps = fake(
    {
      "/a/hearth": { output: { code: 1, stdout: "", stderr: "Traceback: ImportError\n" } },
      "/b/hearth": HEARTH_OK,
      "/c/hearth": HEARTH_OK,
    },
    { PATH: "/nope:/a::/b:/c" },
  );
  const found = await discoverServer("", deps);
  assert.ok(found.ok);
  assert.equal(found.server.command, "/b/hearth");
  assert.equal(found.server.source, "path");
  assert.equal(found.tried.length, 1);
  assert.equal(found.tried[0]?.candidate, "/a/hearth");
});

test("nothing on PATH says how to fix it", async () => {
  const found = await discoverServer(undefined, fake({}, { PATH: "/usr/bin:/bin" }));
  assert.equal(found.ok, false);
  assert.match(found.ok ? "" : found.reason, /not on PATH and hearth\.server\.path is not set/);
});

test("a broken hearth on PATH is reported, not silently skipped", async () => {
  const found = await discoverServer(undefined, fake({ "/x/hearth": { output: { code: null, stdout: "", stderr: "", error: "EACCES" } } }, { PATH: "/x" }));
  assert.equal(found.ok, false);
  assert.match(found.ok ? "" : found.reason, /\/x\/hearth: cannot run it \(EACCES\)/);
});

test("Windows: PATHEXT and ; separators", () => {
  const deps = fake({ "C:\\py\\Scripts/hearth.exe": HEARTH_OK }, { Path: "C:\\py\\Scripts;C:\\other", PATHEXT: ".COM;.EXE" }, "win32");
  assert.deepEqual(onPath("hearth", deps), ["C:\\py\\Scripts/hearth.exe"]);
});

test("path expansion: ~, ${userHome}, ${workspaceFolder}, relative paths", () => {
  assert.equal(expandPath("~/venv/bin/hearth", "/home/u"), "/home/u/venv/bin/hearth");
  assert.equal(expandPath("${userHome}/h", "/home/u"), "/home/u/h");
  assert.equal(expandPath("${workspaceFolder}/.venv/bin/python", "/home/u", "/ws"), "/ws/.venv/bin/python");
  assert.equal(expandPath(".venv/bin/hearth", "/home/u", "/ws"), "/ws/.venv/bin/hearth");
  assert.equal(expandPath("  /abs/hearth ", "/home/u", "/ws"), "/abs/hearth");
});

test("python-looking names", () => {
  for (const name of ["python", "python3", "python3.11", "/x/python.exe", "pypy3"]) {
    assert.ok(looksLikePython(name), name);
  }
  for (const name of ["hearth", "/x/python-hearth", "hearth.exe"]) {
    assert.ok(!looksLikePython(name), name);
  }
});
