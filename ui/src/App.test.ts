import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import { describe, expect, test, vi } from "vitest";
import App from "./App.svelte";
import appSource from "./App.svelte?raw";
import type { CheckReport, ProgressEvent } from "./lib/bindings";
import { loadRecent, RECENT_KEY } from "./lib/recent";
import { CATALOG, channelSender, commandError, deferred, MOTHS, REPORT } from "./test/fixtures";
import { SCREENS } from "./lib/screens";

const NO_PROJECT = commandError("noProject", "No project is open.");

type Handler = (args: Record<string, unknown>) => unknown;

/** Mocks the Rust commands; any command not listed fails the test. */
function backend(commands: Record<string, Handler>) {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  mockIPC((cmd, payload) => {
    const args = (payload ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    const handler = commands[cmd];
    if (!handler) throw new Error(`unexpected command ${cmd}`);
    return handler(args);
  });
  return calls;
}

const fail = (error: unknown) => () => Promise.reject(error);

describe("project screen", () => {
  test("shows the project opened at startup", async () => {
    backend({ project_info: () => MOTHS });
    render(App);
    expect(await screen.findByTestId("project-name")).toHaveTextContent("Moths of Night");
    expect(screen.getByTestId("project-root")).toHaveTextContent("/home/ada/Art/moths");
    expect(screen.getByTestId("schema-version")).toHaveTextContent("v1");
    expect(screen.getByTestId("schema-version")).toHaveTextContent("latest");
  });

  test("opening a folder shows its info and remembers it", async () => {
    const calls = backend({ project_info: fail(NO_PROJECT), open_project: () => MOTHS });
    const user = userEvent.setup();
    render(App);

    await user.type(await screen.findByTestId("open-dir"), "~/Art/moths");
    await user.click(screen.getByTestId("open-button"));

    expect(await screen.findByTestId("project-name")).toHaveTextContent("Moths of Night");
    expect(calls.at(-1)).toEqual({ cmd: "open_project", args: { dir: "~/Art/moths" } });
    expect(loadRecent().map((p) => p.root)).toEqual([MOTHS.root]);
  });

  test("creating a project sends the optional name", async () => {
    const calls = backend({ project_info: fail(NO_PROJECT), create_project: () => MOTHS });
    const user = userEvent.setup();
    render(App);

    await user.type(await screen.findByTestId("new-dir"), "/home/ada/Art/moths");
    await user.click(screen.getByTestId("create-button"));
    expect(await screen.findByTestId("project-name")).toHaveTextContent("Moths of Night");
    expect(calls.at(-1)?.args).toEqual({ dir: "/home/ada/Art/moths", name: null });
  });

  test("an error is shown in place and offers the next step", async () => {
    const message = "`/home/ada/Art/new` is not a Chrysalis project (it has no chrysalis.toml).";
    const calls = backend({
      project_info: fail(NO_PROJECT),
      open_project: fail(commandError("notAProject", message)),
      create_project: () => ({ ...MOTHS, name: "new", root: "/home/ada/Art/new" }),
    });
    const user = userEvent.setup();
    render(App);

    await user.type(await screen.findByTestId("open-dir"), "/home/ada/Art/new");
    await user.click(screen.getByTestId("open-button"));

    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Not a Chrysalis project");
    // Backticked paths are set as code.
    expect(alert).toHaveTextContent(message.replaceAll("`", ""));
    expect(within(alert).getByText("/home/ada/Art/new").tagName).toBe("CODE");
    await user.click(within(alert).getByRole("button", { name: "Create a project here" }));

    expect(await screen.findByTestId("project-name")).toHaveTextContent("new");
    expect(calls.at(-1)).toEqual({ cmd: "create_project", args: { dir: "/home/ada/Art/new", name: null } });
  });

  test("a startup project that failed to open is explained", async () => {
    backend({ project_info: fail(commandError("tooNew", "Update Chrysalis to open this project.")) });
    render(App);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Made by a newer Chrysalis");
    expect(alert).toHaveTextContent("Update Chrysalis to open this project.");
  });

  test("recent projects reopen with one click and can be forgotten", async () => {
    localStorage.setItem(
      RECENT_KEY,
      JSON.stringify([{ root: MOTHS.root, name: MOTHS.name, openedAt: "2026-11-20T10:00:00Z" }]),
    );
    const calls = backend({ project_info: fail(NO_PROJECT), open_project: () => MOTHS });
    const user = userEvent.setup();
    const { unmount } = render(App);

    await user.click(await screen.findByTitle(`Open ${MOTHS.root}`));
    expect(await screen.findByTestId("project-name")).toBeInTheDocument();
    expect(calls.at(-1)).toEqual({ cmd: "open_project", args: { dir: MOTHS.root } });

    await user.click(screen.getByTestId("switch-project"));
    await user.click(screen.getByRole("button", { name: `Forget ${MOTHS.name}` }));
    expect(screen.queryByTitle(`Open ${MOTHS.root}`)).not.toBeInTheDocument();
    expect(loadRecent()).toEqual([]);
    unmount();
  });
});

describe("project check", () => {
  /** A backend whose check streams only what the test sends, and ends when it says. */
  function checkingBackend() {
    const job = deferred<CheckReport>();
    let send: ((event: ProgressEvent) => void) | undefined;
    const cancel = vi.fn(() => {
      job.reject(commandError("cancelled", "Cancelled before it finished."));
      return true;
    });
    const calls = backend({
      project_info: () => MOTHS,
      check_project: (args) => {
        send = channelSender(args.onProgress as Channel<ProgressEvent>);
        return job.promise;
      },
      cancel_job: cancel,
    });
    return { job, send: (e: ProgressEvent) => send!(e), cancel, calls };
  }

  test("shows live progress, then the report", async () => {
    const { job, send } = checkingBackend();
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("check-button"));

    const bar = await screen.findByRole("progressbar");
    expect(bar).not.toHaveAttribute("aria-valuenow");
    send({ event: "progress", step: 1, total: 4, message: "checking database integrity" });
    await vi.waitFor(() => expect(bar).toHaveAttribute("aria-valuenow", "25"));
    expect(screen.getByTestId("progress-message")).toHaveTextContent("checking database integrity");
    expect(screen.getByText("1 of 4 · 25%")).toBeInTheDocument();

    send({ event: "progress", step: 3, total: 4, message: "checking schema history" });
    await vi.waitFor(() => expect(bar).toHaveAttribute("aria-valuenow", "75"));

    send({ event: "finished", report: REPORT });
    job.resolve(REPORT);
    const result = await screen.findByTestId("check-result");
    expect(result).toHaveTextContent("All 4 checks passed.");
    expect(result).toHaveTextContent("no problems found");
    expect(screen.getByTestId("check-button")).toHaveTextContent("Check again");
  });

  test("reports problems the check found", async () => {
    const { job } = checkingBackend();
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("check-button"));
    const bad: CheckReport = {
      ok: false,
      steps: [REPORT.steps[0], { name: "foreign keys", ok: false, detail: "dangling references: item row 3" }],
    };
    job.resolve(bad);
    const result = await screen.findByTestId("check-result");
    expect(result).toHaveTextContent("1 of 2 checks found problems.");
    expect(result).toHaveTextContent("dangling references: item row 3");
  });

  test("a passing step with a warning shows the warning", async () => {
    const { job } = checkingBackend();
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("check-button"));
    const warned: CheckReport = {
      ok: true,
      steps: [
        REPORT.steps[0],
        { name: "collection.toml", ok: true, detail: "12 items x 3 stage(s) planned", warning: "1 creator address in collection.toml is not confirmed" },
      ],
    };
    job.resolve(warned);
    expect(await screen.findByTestId("check-warning")).toHaveTextContent("not confirmed");
  });

  test("cancel stops the check and says so", async () => {
    const { send, cancel } = checkingBackend();
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("check-button"));
    send({ event: "progress", step: 1, total: 4, message: "checking database integrity" });

    await user.click(await screen.findByTestId("cancel-button"));
    expect(cancel).toHaveBeenCalledOnce();
    const note = await screen.findByTestId("check-cancelled");
    expect(note).toHaveTextContent("Check cancelled after 1 of 4 steps.");
    expect(screen.queryByRole("progressbar")).not.toBeInTheDocument();
    expect(screen.getByTestId("check-button")).toBeEnabled();
  });

  test("a failed check shows why", async () => {
    backend({
      project_info: () => MOTHS,
      check_project: fail(commandError("storage", "Project database `/x/chrysalis.db`: disk I/O error.")),
    });
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("check-button"));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Could not read or write the project");
    expect(alert).toHaveTextContent("disk I/O error");
  });
});

describe("studio shell", () => {
  test("the sidebar walks the whole path; unbuilt screens say what comes next", async () => {
    backend({ project_info: () => MOTHS, engine_catalog: () => CATALOG, list_generations: () => [] });
    const user = userEvent.setup();
    render(App);
    const nav = await screen.findByRole("navigation", { name: "Screens" });
    expect(within(nav).getAllByRole("button").map((b) => b.dataset.testid)).toEqual([
      "nav-project",
      "nav-create",
      "nav-gallery",
      "nav-collection",
      "nav-publish",
      "nav-mint",
      "nav-evolve",
      "nav-royalties",
    ]);
    await user.click(screen.getByTestId("nav-create"));
    expect(await screen.findByTestId("generate-button")).toBeInTheDocument();
    expect(screen.getByTestId("header-screen")).toHaveTextContent("Create");
    expect(screen.getByTestId("nav-create")).toHaveAttribute("aria-current", "page");

    const later = SCREENS.find((s) => !s.component);
    if (later) {
      await user.click(screen.getByTestId(`nav-${later.id}`));
      const page = await screen.findByTestId("coming-next");
      expect(page).toHaveTextContent(later.about);
    }
  });

  test("Ctrl+1…7 switch screens, Ctrl+Enter generates, Escape cancels", async () => {
    const calls = backend({
      project_info: () => MOTHS,
      engine_catalog: () => CATALOG,
      list_generations: () => [],
      generate: () => new Promise(() => {}),
      cancel_job: () => true,
    });
    const user = userEvent.setup();
    render(App);
    await screen.findByTestId("project-name");

    await user.keyboard("{Control>}2{/Control}");
    expect(await screen.findByTestId("gallery-empty")).toBeInTheDocument();
    await user.keyboard("{Control>}1{/Control}");
    await screen.findByTestId("generate-button");
    await user.keyboard("{Control>}{Enter}{/Control}");
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === "generate")).toBe(true));
    await user.keyboard("{Escape}");
    await vi.waitFor(() => expect(calls.at(-1)?.cmd).toBe("cancel_job"));
    await user.keyboard("{Control>}0{/Control}");
    expect(await screen.findByTestId("project-card")).toBeInTheDocument();
  });

  test("the sidebar marks the Collection screen, however it was reached, and nothing else", async () => {
    backend({
      project_info: () => MOTHS,
      collection_load: () => ({ text: "", exists: false, problems: [] }),
      list_generations: () => [],
    });
    const user = userEvent.setup();
    render(App);
    const marked = () =>
      screen
        .getAllByRole("button")
        .filter((b) => b.dataset.testid?.startsWith("nav-") && (b.classList.contains("active") || b.hasAttribute("aria-current")))
        .map((b) => b.dataset.testid);
    expect(await screen.findByTestId("project-card")).toBeInTheDocument();
    expect(marked()).toEqual(["nav-project"]);
    for (const go of [
      () => user.click(screen.getByTestId("nav-collection")),
      () => user.keyboard("{Control>}3{/Control}"),
      () => user.click(screen.getByTestId("path-collection")),
    ]) {
      await user.keyboard("{Control>}0{/Control}");
      await screen.findByTestId("project-card");
      await go();
      expect(await screen.findByTestId("screen-collection")).toBeInTheDocument();
      expect(marked()).toEqual(["nav-collection"]);
      expect(screen.getByTestId("nav-collection")).toHaveAttribute("aria-current", "page");
      expect(screen.getByTestId("header-screen")).toHaveTextContent("Collection");
    }
    // The mark shows at once: no fade that a slow compositor can leave half-way (the
    // screenshot of the Collection screen once showed Project boxed). jsdom has no CSS, so
    // this reads the rule itself.
    const navRule = appSource.match(/\n {2}\.nav \{[^}]*\}/)?.[0] ?? "";
    expect(navRule).toContain("transition: none;");
  });

  test("the overview shows the path and opens its steps", async () => {
    backend({ project_info: () => MOTHS, list_generations: () => [] });
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("path-gallery"));
    expect(await screen.findByTestId("gallery-empty")).toBeInTheDocument();
  });
});
