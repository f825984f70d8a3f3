// End-to-end: the built Chrysalis Studio, driven through tauri-driver and WebKitWebDriver
// under Xvfb. Run it with scripts/e2e.sh, which builds the app and sets:
//   CHRYSALIS_STUDIO_BIN  the app binary (a build that embeds ui/dist)
//   TAURI_DRIVER          the tauri-driver binary (default: on PATH)

import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as e2e from "./support.mjs";
import { APP, byTestId, screenshot, waitForText } from "./support.mjs";

const PORT = Number(process.env.TAURI_DRIVER_PORT || 4444);

let driver;
let scratch;

const launch = (args = []) => e2e.launch(PORT, args);

async function textOf(browser, id, timeout = 15000) {
  const el = await byTestId(browser, id);
  await el.waitForDisplayed({ timeout });
  return el.getText();
}

describe("Chrysalis Studio", function () {
  this.timeout(120_000);

  before(async () => {
    assert.ok(APP && existsSync(APP), `CHRYSALIS_STUDIO_BIN must name the built app (got ${APP})`);
    scratch = mkdtempSync(path.join(tmpdir(), "chrysalis-e2e-"));
    driver = await e2e.startDriver(PORT, scratch);
  });

  after(async () => {
    await e2e.stopDriver(driver);
    if (scratch && !process.env.KEEP_E2E_TMP) {
      // The webview may still be flushing its caches for a moment after the session ends.
      // Cleaning up scratch files is not what these tests check: warn, never fail.
      try {
        rmSync(scratch, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
      } catch (e) {
        console.warn(`could not remove ${scratch}: ${e.message}`);
      }
    }
  });

  it("creates a project, shows its info and checks it with progress", async () => {
    const dir = path.join(scratch, "projects", "moths-of-night");
    const browser = await launch();
    try {
      await (await byTestId(browser, "new-dir")).waitForDisplayed({ timeout: 30000 });
      await (await byTestId(browser, "new-dir")).setValue(dir);
      await (await byTestId(browser, "new-name")).setValue("Moths of Night");
      await (await byTestId(browser, "create-button")).click();

      await waitForText(browser, "project-name", "Moths of Night");
      assert.match(await textOf(browser, "schema-version"), /^v\d+ latest$/);
      // textContent: WebDriver's visible-text rules drop text clipped with an ellipsis.
      assert.equal(await (await byTestId(browser, "project-root")).getProperty("textContent"), dir);
      assert.ok(existsSync(path.join(dir, "chrysalis.toml")), "the project exists on disk");

      await (await byTestId(browser, "check-button")).click();
      const result = await byTestId(browser, "check-result");
      await result.waitForDisplayed({ timeout: 30000 });
      assert.equal(await result.getAttribute("data-ok"), "true");
      assert.match(await result.getText(), /All \d+ checks passed\./);
      const bar = await result.$('[role="progressbar"]');
      assert.equal(await bar.getAttribute("aria-valuenow"), "100");
      // Progress really streamed through the channel: a start, one per step, the end.
      const events = Number(await (await byTestId(browser, "check-panel")).getAttribute("data-events"));
      assert.ok(events >= 3, `only ${events} progress events arrived`);

      await screenshot(browser, "project");
    } finally {
      await browser.deleteSession();
    }
  });

  // The artist's path through one project, in one session: each step starts where the
  // previous one left the app. Later screens append their steps here (collection ->
  // publish -> mint -> warp -> evolve -> distribute), each saving a screenshot.
  describe("the artist's path", () => {
    const dir = () => path.join(scratch, "projects", "path");
    let browser;

    before(async () => {
      browser = await launch();
      // Room for the form and the image side by side in the screenshots (Xvfb is 1280x900).
      try {
        await browser.setWindowSize(1280, 880);
      } catch (e) {
        console.warn(`cannot resize the window: ${e.message}`);
      }
      await (await byTestId(browser, "new-dir")).waitForDisplayed({ timeout: 30000 });
      await (await byTestId(browser, "new-dir")).setValue(dir());
      await (await byTestId(browser, "new-name")).setValue("Night Garden");
      await (await byTestId(browser, "create-button")).click();
      await waitForText(browser, "project-name", "Night Garden");
    });

    after(async () => {
      if (browser) await browser.deleteSession();
    });

    /** The element, scrolled to the middle of the window (clear of the sticky bars). */
    async function centered(id) {
      const el = await byTestId(browser, id);
      await el.waitForDisplayed({ timeout: 15000 });
      await el.scrollIntoView({ block: "center" });
      return el;
    }

    /** Shows a screen through the sidebar and waits until it is the current one. */
    async function show(id) {
      await (await byTestId(browser, `nav-${id}`)).click();
      await (await byTestId(browser, `screen-${id}`)).waitForExist({ timeout: 15000 });
    }

    it("create: generates a procedural image with live progress", async () => {
      await show("create");
      await (await byTestId(browser, "prompt")).waitForDisplayed({ timeout: 15000 });
      await (await centered("seed-lock-label")).click();
      assert.equal(await (await byTestId(browser, "seed-lock")).isSelected(), true);
      // Three images, one per style; the last one is checked in the gallery.
      const images = [
        ["growth", "11", "a moth's mycelium"],
        ["reaction-diffusion", "12", "wing scales"],
        ["flow-field", "2024", "a night garden of moths"],
      ];
      for (const [n, [style, seed, prompt]] of images.entries()) {
        await (await centered("prompt")).setValue(prompt);
        await (await centered("style-select")).selectByAttribute("value", style);
        await (await centered("seed")).setValue(seed);
        await (await centered("generate-button")).click();

        const result = await byTestId(browser, "result");
        await browser.waitUntil(async () => (await result.isExisting()) && (await result.getAttribute("data-id")) === String(n + 1), {
          timeout: 90000,
          timeoutMsg: `image ${n + 1} (${style}) never appeared`,
        });
        const image = await byTestId(browser, "result-image");
        assert.match(await image.getAttribute("src"), /^data:image\/png;base64,/);
        // Progress really streamed through the channel before the image appeared.
        const events = Number(await result.getAttribute("data-events"));
        assert.ok(events >= 2, `only ${events} progress events arrived`);
      }
      await browser.waitUntil(async () => (await browser.$$('[data-testid="history-item"]')).length === 3, {
        timeout: 15000,
        timeoutMsg: "the history does not list the three images",
      });
      const folder = path.join(dir(), "images");
      assert.equal(readdirSync(folder).filter((f) => f.endsWith(".png")).length, 3, "the PNGs are in the project");
      await screenshot(browser, "create");
    });

    it("gallery: shows the recipe and regenerates the image identically", async () => {
      await show("gallery");
      const tile = await byTestId(browser, "gallery-tile");
      await tile.waitForDisplayed({ timeout: 15000 });
      await tile.click();
      await (await byTestId(browser, "gallery-image")).waitForDisplayed({ timeout: 15000 });
      const seed = await browser.$('[data-testid="recipe-row"][data-label="Seed"] dd');
      assert.equal(await seed.getText(), "2024");
      const prompt = await browser.$('[data-testid="recipe-row"][data-label="Prompt"] dd');
      assert.equal(await prompt.getText(), "a night garden of moths");

      await (await byTestId(browser, "regen-check")).click();
      const verdict = await byTestId(browser, "regen-result");
      await verdict.waitForDisplayed({ timeout: 90000 });
      assert.equal(await verdict.getAttribute("data-identical"), "true");
      assert.match(await verdict.getText(), /Identical/);
      await screenshot(browser, "gallery");
    });

    it("every screen of the path opens from the sidebar", async () => {
      const titles = { collection: "Collection", publish: "Publish", mint: "Mint", evolve: "Evolve", royalties: "Royalties", project: "Project" };
      for (const [id, title] of Object.entries(titles)) {
        await show(id);
        assert.equal(await (await byTestId(browser, `nav-${id}`)).getAttribute("aria-current"), "page");
        // textContent: WebDriver's visible-text rules drop text in an ellipsis-clipped box.
        assert.equal(await (await byTestId(browser, "header-screen")).getProperty("textContent"), title);
      }
    });
  });

  it("opens the project named on the command line", async () => {
    const dir = path.join(scratch, "projects", "moths-of-night");
    const browser = await launch([dir]);
    try {
      await waitForText(browser, "project-name", "Moths of Night", 30000);
      assert.match(await textOf(browser, "schema-version"), /^v\d+ latest$/);
    } finally {
      await browser.deleteSession();
    }
  });

  it("explains a folder that is not a project and offers to create one", async () => {
    const dir = path.join(scratch, "projects", "plain-folder");
    mkdirSync(dir, { recursive: true });
    const browser = await launch();
    try {
      await (await byTestId(browser, "open-dir")).waitForDisplayed({ timeout: 30000 });
      await (await byTestId(browser, "open-dir")).setValue(dir);
      await (await byTestId(browser, "open-button")).click();

      const alert = await byTestId(browser, "error");
      await alert.waitForDisplayed({ timeout: 15000 });
      assert.equal(await alert.getAttribute("data-kind"), "notAProject");
      assert.match(await alert.getText(), /Not a Chrysalis project/);
      await screenshot(browser, "error");

      await (await alert.$("button=Create a project here")).click();
      await waitForText(browser, "project-name", "plain-folder");
    } finally {
      await browser.deleteSession();
    }
  });
});
