// End-to-end: the artist's whole path in the built Chrysalis Studio, on embedded defaults
// only: a new project -> the demo collection -> a third of it made as a shard job (exported,
// run in its own folder, imported back) -> Publish (this computer's store) -> Mint
// (Sandbox) -> Evolve (warp the Sandbox clock, crank what is due) -> Royalties (a simulated
// sale, then distribute). Each step asserts what the window shows and saves
// screenshots/<screen>.png. Run it with scripts/e2e.sh (see app.spec.mjs for the setup).

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as e2e from "./support.mjs";
import { APP } from "./support.mjs";

// Not tauri-driver's default ports (4444, and 4445 for WebKitWebDriver behind it): a driver
// of another spec file may still be letting go of them.
const PORT = Number(process.env.TAURI_DRIVER_PATH_PORT || 4454);
const NATIVE_PORT = PORT + 1;
/** Generating 12 items x 3 stages in a debug build takes a while on two cores. */
const LONG = 600_000;

let driver;
let scratch;
let browser;

const byTestId = (id) => e2e.byTestId(browser, id);
const allByTestId = (id) => browser.$$(`[data-testid="${id}"]`);

const waitForText = (id, expected, timeout = 30_000) => e2e.waitForText(browser, id, expected, timeout);

async function waitForAttr(id, attr, value, timeout = 30_000) {
  const el = await byTestId(id);
  await el.waitForExist({ timeout });
  await browser.waitUntil(async () => (await el.getAttribute(attr)) === value, {
    timeout,
    timeoutMsg: `${id}[${attr}] never became "${value}" (it is "${await el.getAttribute(attr)}")`,
  });
}

/** The `data-stage` of every NFT row on the Evolve screen. */
async function stages() {
  const out = [];
  // (WebdriverIO's element arrays map asynchronously: a plain loop keeps it simple.)
  for (const r of await allByTestId("nft-row")) out.push(await r.getAttribute("data-stage"));
  return out;
}

async function waitForStages(expected, timeout = 120_000) {
  await browser.waitUntil(async () => {
    const s = await stages();
    return s.length === 12 && s.every((x) => x === expected);
  }, { timeout, timeoutMsg: `the NFTs never all reached stage ${expected} (${(await stages()).join(",")})` });
}

const screenshot = (name) => e2e.screenshot(browser, name);

/** A screenshot with the element `id` scrolled to the top of the window (a card further down
 *  the screen). */
async function screenshotOf(id, name) {
  await browser.execute((testId) => document.querySelector(`[data-testid="${testId}"]`)?.scrollIntoView({ block: "start" }), id);
  await browser.pause(200);
  await browser.saveScreenshot(path.join(e2e.SCREENSHOTS, `${name}.png`));
}

async function show(id) {
  await (await byTestId(`nav-${id}`)).click();
  await (await byTestId(`screen-${id}`)).waitForExist({ timeout: 15_000 });
}

describe("the whole path: generate -> collect -> publish -> mint -> evolve -> royalties", function () {
  this.timeout(LONG + 120_000);
  const dir = () => path.join(scratch, "projects", "demo-path");

  before(async () => {
    assert.ok(APP && existsSync(APP), `CHRYSALIS_STUDIO_BIN must name the built app (got ${APP})`);
    scratch = mkdtempSync(path.join(tmpdir(), "chrysalis-e2e-path-"));
    driver = await e2e.startDriver(PORT, scratch, ["--native-port", String(NATIVE_PORT)]);
    browser = await e2e.launch(PORT);
    try {
      await browser.setWindowSize(1280, 880);
    } catch (e) {
      console.warn(`cannot resize the window: ${e.message}`);
    }
    await (await byTestId("new-dir")).waitForDisplayed({ timeout: 30_000 });
    await (await byTestId("new-dir")).setValue(dir());
    await (await byTestId("new-name")).setValue("Demo Path");
    await (await byTestId("create-button")).click();
    await waitForText("project-name", "Demo Path");
  });

  after(async () => {
    if (browser) await browser.deleteSession().catch(() => {});
    await e2e.stopDriver(driver);
    if (scratch && !process.env.KEEP_E2E_TMP) {
      try {
        rmSync(scratch, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
      } catch (e) {
        console.warn(`could not remove ${scratch}: ${e.message}`);
      }
    }
  });

  it("collection: saves the demo collection into the project", async () => {
    await show("collection");
    const save = await byTestId("save");
    if (await save.isExisting()) {
      // The Collection screen starts a project without a spec from the demo collection.
      await waitForText("save-status", "demo collection", 30_000);
      await screenshot("collection");
      await save.click();
      await waitForText("save-status", "Saved", 30_000);
      await show("publish");
    } else {
      // No Collection screen in this build: the Publish screen offers the demo collection.
      await screenshot("collection");
      await show("publish");
      await (await byTestId("use-demo")).click();
    }
    await waitForAttr("publish-state", "data-state", "not-started");
    assert.ok(existsSync(path.join(dir(), "collection.toml")), "the demo spec is in the project");
  });

  it("several machines: exports 3 shard jobs, runs one in its own folder, imports its images back", async () => {
    const jobs = path.join(scratch, "jobs");
    await (await byTestId("shard-dest")).setValue(jobs);
    await (await byTestId("shard-export")).click();
    await waitForText("shard-exported", "3 job folders", 60_000);
    assert.equal((await allByTestId("shard-job-row")).length, 3);
    const folders = readdirSync(jobs).sort();
    assert.deepEqual(folders, ["chrysalis-demo-shard-0-of-3", "chrysalis-demo-shard-1-of-3", "chrysalis-demo-shard-2-of-3"]);
    const job = path.join(jobs, folders[0]);
    assert.equal(JSON.parse(readFileSync(path.join(job, "shard.json"), "utf8")).images, 12, "4 items x 3 stages");

    // "Another machine": open the job folder; its Publish screen only makes its shard.
    await (await byTestId("switch-project")).click();
    await (await byTestId("open-dir")).waitForDisplayed({ timeout: 15_000 });
    await (await byTestId("open-dir")).setValue(job);
    await (await byTestId("open-button")).click();
    await waitForText("project-name", folders[0], 30_000);
    await show("publish");
    await waitForText("shard-job-text", "shard job 0/3 of “Chrysalis Demo”: it makes 12 images", 30_000);
    await (await byTestId("shard-run")).click();
    await waitForText("shard-run-done", "12 made now", LONG);
    await screenshot("shard-job");

    // Back home: check the folder, import it, every image checked against its recipe.
    await (await byTestId("switch-project")).click();
    await (await byTestId("open-dir")).waitForDisplayed({ timeout: 15_000 });
    await (await byTestId("open-dir")).setValue(dir());
    await (await byTestId("open-button")).click();
    await waitForText("project-name", "Demo Path", 30_000);
    await show("publish");
    await (await byTestId("shard-from")).setValue(job);
    await (await byTestId("shard-check-folder")).click();
    await waitForText("shard-check-text", "12 of 12 images found", 60_000);
    await (await byTestId("shard-import")).click();
    await waitForText("shard-imported-text", "12 images imported", 120_000);
    assert.equal(readdirSync(path.join(dir(), "build", "stage-2", "images")).length, 4, "items 0, 3, 6, 9");
    await waitForAttr("publish-state", "data-state", "partial");
    await screenshotOf("shard-jobs", "shards");
  });

  it("publish: makes every stage and pins it to this computer's store, with progress and CIDs", async () => {
    await (await byTestId("backend-local")).click();
    await (await byTestId("publish-run")).click();
    await (await byTestId("publish-progress")).waitForDisplayed({ timeout: 60_000 });
    await waitForAttr("publish-state", "data-state", "complete", LONG);
    await waitForText("publish-done", "12 items × 3 stages");
    // The shard's 12 images were kept, not made again.
    await waitForText("publish-done", "24 images made, 12 kept from before");
    const rows = await allByTestId("cid-row");
    assert.equal(rows.length, 7, "3 stages x (images, metadata) + the collection JSON");
    for (const r of rows) assert.match(await r.getText(), /Qm[1-9A-HJ-NP-Za-km-z]{44}/);
    const images = path.join(dir(), "build", "stage-2", "images");
    assert.equal(readdirSync(images).filter((f) => f.endsWith(".png")).length, 12);
    await screenshot("publish");
  });

  it("mint: estimates the cost, then mints all 12 in the Sandbox", async () => {
    await (await byTestId("go-mint")).click();
    await (await byTestId("screen-mint")).waitForExist({ timeout: 15_000 });
    assert.equal(await (await byTestId("network-sandbox")).isSelected(), true, "the Sandbox is the default");
    await waitForText("estimate", "Total, at most", 60_000);
    await waitForText("wallet-balance", "SOL", 60_000);
    await (await byTestId("mint-run")).click();
    await waitForText("mint-done", "12 in all on sandbox", 300_000);
    const rows = await allByTestId("mint-row");
    assert.equal(rows.length, 12);
    for (const r of rows) assert.equal(await r.getAttribute("data-status"), "minted");
    await waitForText("estimate", "Already minted (not paid again)", 60_000);
    await screenshot("mint");
  });

  it("evolve: nothing is due, warp a day, crank, warp a week, crank, verify", async () => {
    await (await byTestId("go-evolve")).click();
    await (await byTestId("screen-evolve")).waitForExist({ timeout: 15_000 });
    await (await byTestId("timeline")).waitForDisplayed({ timeout: 60_000 });
    await waitForStages("0");
    await waitForText("crank", "(0)");
    assert.equal(await (await byTestId("crank")).isEnabled(), false, "nothing is due right after minting");
    const before = Number(await (await byTestId("chain-clock")).getAttribute("data-now"));

    await (await byTestId("warp-1d")).click();
    await waitForText("crank", "(12)", 60_000);
    const after = Number(await (await byTestId("chain-clock")).getAttribute("data-now"));
    assert.ok(after - before >= 86_400, `the clock moved ${after - before} s`);
    await (await byTestId("crank")).click();
    await waitForStages("1");

    await (await byTestId("warp-7d")).click();
    await waitForText("crank", "(12)", 60_000);
    await (await byTestId("crank")).click();
    await waitForStages("2");
    const rows = await allByTestId("nft-row");
    for (const r of rows) assert.equal(await r.getAttribute("data-state"), "final");
    // Verify one: chain -> metadata -> bytes -> regenerate -> identical.
    await (await allByTestId("verify"))[0].click();
    await waitForAttr("verify-result", "data-ok", "true", 120_000);
    await waitForText("verify-result", "Verified");
    await screenshot("evolve");
  });

  it("royalties: a simulated sale pays the vault, distribute pays the creator", async () => {
    await show("royalties");
    await (await byTestId("vault")).waitForDisplayed({ timeout: 60_000 });
    assert.equal((await allByTestId("creator-row")).length, 1);
    await (await byTestId("sale-price")).setValue("2");
    await (await byTestId("pay")).click();
    // The demo's royalty is 5 %: a 2 SOL sale pays 0.1 SOL into the vault.
    await waitForText("royalties-note", "paid 0.1 SOL of royalties", 60_000);
    await waitForText("vault-text", "0.1 SOL came in");
    await (await byTestId("distribute")).click();
    await waitForText("royalties-note", "to the creators", 60_000);
    await waitForText("vault-text", "Nothing new to distribute");
    const history = await allByTestId("history-row");
    assert.equal(history.length, 2);
    assert.equal(await history[0].getAttribute("data-kind"), "distribution");
    assert.equal(await history[1].getAttribute("data-kind"), "payment");
    for (const h of history) assert.equal(await h.getAttribute("data-status"), "done");
    await screenshot("royalties");
  });
});
