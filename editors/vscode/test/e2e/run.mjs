// Drives a real VS Code (code-server) in Debian's Chromium through playwright-core:
// ghost text -> Tab -> saved file; Explain Selection -> panel; Review Selection -> diagnostic.
//
// Usage: node test/e2e/run.mjs CONFIG.json
//   CONFIG: { url, workspace, file, typed, artifacts, chromium, timeoutMs }
// Writes ARTIFACTS/results.json ({steps: {name: {ok, detail, screenshot}}}) and one screenshot
// per step (NN-name.png). Every step runs even when an earlier one failed, where it can.

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const timeout = config.timeoutMs ?? 90_000;
mkdirSync(config.artifacts, { recursive: true });
const results = { steps: {}, console: [] };
let shot = 0;

function save() {
  writeFileSync(join(config.artifacts, "results.json"), JSON.stringify(results, null, 2));
}

async function screenshot(page, name) {
  const file = `${String(++shot).padStart(2, "0")}-${name}.png`;
  await page.screenshot({ path: join(config.artifacts, file) }).catch(() => {});
  return file;
}

async function step(page, name, fn) {
  const started = Date.now();
  let ok = false;
  let detail = "";
  try {
    detail = (await fn()) ?? "";
    ok = true;
  } catch (err) {
    detail = String(err?.stack ?? err).split("\n").slice(0, 6).join("\n");
  }
  const file = await screenshot(page, name);
  results.steps[name] = { ok, detail, screenshot: file, seconds: (Date.now() - started) / 1000 };
  save();
  console.log(`${ok ? "ok  " : "FAIL"} ${name} (${results.steps[name].seconds}s) ${detail.split("\n")[0]}`);
  return ok;
}

async function runCommand(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: 10_000 });
  await input.fill(`>${title}`);
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  await row.waitFor({ state: "visible", timeout: 10_000 });
  await page.keyboard.press("Enter");
}

/** The frame of a webview whose document has `selector` (webviews are nested iframes). */
async function webviewFrame(page, selector, until) {
  const deadline = Date.now() + until;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      try {
        if ((await frame.locator(selector).count()) > 0) {
          return frame;
        }
      } catch {
        // detached while looking
      }
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no webview frame with ${selector} within ${until} ms`);
}

const browser = await chromium.launch({
  executablePath: config.chromium,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
page.on("console", (m) => {
  if (m.type() === "error" && results.console.length < 50) {
    results.console.push(m.text().slice(0, 300));
  }
});

try {
  const workbench = await step(page, "workbench", async () => {
    await page.goto(`${config.url}/?folder=${encodeURIComponent(config.workspace)}`, { timeout });
    await page.locator(".monaco-workbench").waitFor({ timeout });
    const item = page.locator(".statusbar-item", { hasText: "Hearth" }).first();
    await item.waitFor({ timeout });
    return `status bar: ${await item.getAttribute("aria-label")}`;
  });
  if (!workbench) {
    throw new Error("the workbench did not load");
  }

  await step(page, "open-file", async () => {
    await page.keyboard.press("Control+P");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible", timeout: 15_000 });
    await input.fill(config.file);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: config.file }).first().waitFor({ timeout: 15_000 });
    await page.keyboard.press("Enter");
    await page.locator(`.tab.active`, { hasText: config.file }).waitFor({ timeout: 15_000 });
    await page.locator(".monaco-editor .view-lines").first().click();
    // Ready means the model is loaded: wait for the status item to stop spinning.
    const ready = page.locator(".statusbar-item", { hasText: "Hearth" }).first();
    const deadline = Date.now() + timeout;
    let label = "";
    while (Date.now() < deadline) {
      label = (await ready.getAttribute("aria-label")) ?? "";
      if (/^Hearth$|sparkle|Hearth is ready/.test(label) || !/loading|indexing|starting/i.test(label)) {
        break;
      }
      await page.waitForTimeout(500);
    }
    return `status: ${label}`;
  });

  const ghost = page.locator(".ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text").first();
  const ghostOk = await step(page, "ghost-text", async () => {
    await page.keyboard.press("Control+End");
    await page.keyboard.type(config.typed, { delay: 40 });
    try {
      await ghost.waitFor({ state: "visible", timeout: timeout / 2 });
    } catch {
      // Nothing while typing: ask explicitly (Hearth: Trigger Suggestion, Alt+\).
      await page.keyboard.press("Alt+Backslash");
      await ghost.waitFor({ state: "visible", timeout: timeout / 2 });
    }
    return `ghost text: ${JSON.stringify((await ghost.textContent())?.slice(0, 80))}`;
  });

  await step(page, "accept-and-save", async () => {
    if (!ghostOk) {
      throw new Error("no ghost text to accept");
    }
    await page.keyboard.press("Tab");
    await page.waitForTimeout(300);
    await page.keyboard.press("Control+S");
    const path = join(config.workspace, config.file);
    const expected = config.original + config.typed;
    const deadline = Date.now() + 10_000;
    let saved = "";
    while (Date.now() < deadline) {
      saved = readFileSync(path, "utf8");
      if (saved.length > expected.length) {
        break;
      }
      await page.waitForTimeout(200);
    }
    writeFileSync(join(config.artifacts, "saved-" + config.file), saved);
    if (!saved.startsWith(expected)) {
      throw new Error(`saved file does not start with what was typed: ${JSON.stringify(saved.slice(-200))}`);
    }
    if (saved.length <= expected.length) {
      throw new Error("saved file has nothing beyond what was typed: the suggestion was not accepted");
    }
    const accepted = saved.slice(expected.length);
    if (accepted.includes("\uFFFD")) {
      results.warnings = [...(results.warnings ?? []), "the accepted suggestion holds U+FFFD (broken UTF-8 from the model)"];
    }
    return `accepted ${JSON.stringify(accepted.slice(0, 80))}`;
  });

  await step(page, "explain", async () => {
    await page.locator(".monaco-editor .view-lines").first().click();
    await page.keyboard.press("Control+A");
    await runCommand(page, "Hearth: Explain Selection");
    await page.locator(".tab", { hasText: "Hearth: Explain" }).first().waitFor({ timeout: 15_000 });
    const frame = await webviewFrame(page, "#hearth-explain-body", 20_000);
    await frame.waitForFunction(
      () => (document.getElementById("hearth-explain-body")?.textContent ?? "").trim().length > 0 || document.body.dataset.state === "error",
      null,
      { timeout },
    );
    const state = await frame.evaluate(() => document.body.dataset.state);
    const body = await frame.evaluate(() => document.getElementById("hearth-explain-body")?.textContent ?? "");
    const note = await frame.evaluate(() => document.getElementById("note")?.textContent ?? "");
    if (state === "error") {
      throw new Error(`the panel shows an error: ${note}`);
    }
    // Let it finish streaming so the screenshot shows the whole explanation.
    await frame.waitForFunction(() => document.body.dataset.state !== "generating", null, { timeout }).catch(() => {});
    return `panel (${state}): ${JSON.stringify(body.trim().slice(0, 120))}`;
  });

  await step(page, "review", async () => {
    // Back to the Python file, select everything, review.
    await page.locator(".tab", { hasText: config.file }).first().click();
    await page.locator(".monaco-editor .view-lines").first().click();
    await page.keyboard.press("Control+A");
    await runCommand(page, "Hearth: Review Selection");
    const squiggle = page.locator(
      ".monaco-editor .squiggly-error, .monaco-editor .squiggly-warning, .monaco-editor .squiggly-info, .monaco-editor .squiggly-hint",
    );
    // Either a diagnostic appears or the review ends with a message saying why not.
    const ended = page.locator(".notifications-toasts .notification-toast", { hasText: /Hearth review:|Hearth could not review/ });
    await squiggle.first().or(ended.first()).first().waitFor({ state: "attached", timeout });
    if ((await squiggle.count()) === 0) {
      await page.waitForTimeout(1000);
      if ((await squiggle.count()) === 0) {
        const said = await ended.first().locator(".notification-list-item-message").textContent();
        throw new Error(`no diagnostic; the review said: ${said?.trim()}`);
      }
    }
    await page.keyboard.press("Control+Shift+M");
    // The first row names the file; the marker rows under it carry the source "hearth".
    const marker = page.locator(".markers-panel .monaco-list-row", { hasText: "hearth" }).first();
    await marker.waitFor({ timeout: 15_000 });
    return `diagnostic: ${JSON.stringify((await marker.textContent())?.slice(0, 160))}`;
  });
} catch (err) {
  results.error = String(err?.stack ?? err);
  await screenshot(page, "aborted");
} finally {
  save();
  await browser.close();
}
