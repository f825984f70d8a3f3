// What every end-to-end spec needs: tauri-driver in its own process group on a port of the
// spec's choosing, a WebDriver session on the built app, and a few waits. Not a spec itself
// (mocha runs `specs/*.spec.mjs`).

import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { remote } from "webdriverio";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SCREENSHOTS = path.resolve(HERE, "../screenshots");
export const APP = process.env.CHRYSALIS_STUDIO_BIN;
const DRIVER = process.env.TAURI_DRIVER || "tauri-driver";

async function driverReady(port) {
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/status`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tauri-driver did not start on port ${port}`);
}

/** Stops a detached child and every process in its group. */
export function stopGroup(child) {
  if (!child || child.exitCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    child.kill();
  }
}

/** Starts tauri-driver on `port` (`extraArgs`, e.g. its `--native-port`) with the app's
 *  webview data (localStorage) in a scratch profile under `scratch`, not the user's, and
 *  waits until it listens. */
export async function startDriver(port, scratch, extraArgs = []) {
  const xdg = (name) => {
    const dir = path.join(scratch, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const driver = spawn(DRIVER, ["--port", String(port), ...extraArgs], {
    stdio: ["ignore", "inherit", "inherit"],
    // Its own process group, so stopping it also stops WebKitWebDriver, the app and
    // WebKit's helper processes, which would otherwise outlive it.
    detached: true,
    env: {
      ...process.env,
      XDG_DATA_HOME: xdg("data"),
      XDG_CONFIG_HOME: xdg("config"),
      XDG_CACHE_HOME: xdg("cache"),
      CHRYSALIS_PROJECT: "",
    },
  });
  driver.on("error", (e) => console.error(`tauri-driver: ${e.message}`));
  // Never leave a driver holding the port, even if mocha dies.
  process.on("exit", () => stopGroup(driver));
  await driverReady(port);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return driver;
}

/** Stops the driver (and its group) and waits until it has exited. */
export async function stopDriver(driver) {
  if (driver && driver.exitCode === null) {
    const exited = new Promise((resolve) => driver.once("exit", resolve));
    stopGroup(driver);
    await exited;
  }
}

/** Starts the app with `args` through the driver on `port`; a WebDriver session on its window. */
export function launch(port, args = []) {
  return remote({
    hostname: "127.0.0.1",
    port,
    logLevel: "warn",
    connectionRetryCount: 0,
    capabilities: {
      // No browserName: WebKitWebDriver rejects "wry".
      "tauri:options": { application: APP, args },
      "wdio:enforceWebDriverClassic": true,
    },
  });
}

export const byTestId = (browser, id) => browser.$(`[data-testid="${id}"]`);

export async function waitForText(browser, id, expected, timeout = 15000) {
  const el = await byTestId(browser, id);
  await el.waitForDisplayed({ timeout });
  await browser.waitUntil(async () => (await el.getText()).includes(expected), {
    timeout,
    timeoutMsg: `${id} never showed "${expected}" (it shows "${await el.getText()}")`,
  });
}

/** Saves `screenshots/<name>.png` of the window scrolled to the top, as a person would
 *  first see the screen. */
export async function screenshot(browser, name) {
  await browser.execute(() => {
    for (const el of document.querySelectorAll("main")) el.scrollTo(0, 0);
    window.scrollTo(0, 0);
  });
  await browser.pause(200);
  await browser.saveScreenshot(path.join(SCREENSHOTS, `${name}.png`));
}
