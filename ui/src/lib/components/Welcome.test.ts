import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, test, vi } from "vitest";
import { backend, fail } from "../../test/backend";
import { MOTHS } from "../../test/fixtures";
import Welcome from "./Welcome.svelte";

const props = () => ({ recent: [], onopened: vi.fn(), onforget: vi.fn() });

describe("Welcome", () => {
  test("Browse… for a new project fills its folder from the native dialog; cancelling changes nothing", async () => {
    let picked: string | null = null;
    const calls = backend({ "plugin:dialog|open": () => picked });
    const user = userEvent.setup();
    render(Welcome, props());
    await user.type(screen.getByTestId("new-dir"), "/typed");

    await user.click(screen.getByTestId("new-browse"));
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0].args.options).toMatchObject({ directory: true, multiple: false, defaultPath: "/typed" });
    expect(screen.getByTestId("new-dir")).toHaveValue("/typed");

    picked = "/home/ada/Art/moths";
    await user.click(screen.getByTestId("new-browse"));
    await vi.waitFor(() => expect(screen.getByTestId("new-dir")).toHaveValue("/home/ada/Art/moths"));
    // Nothing is created until the artist presses Create (the name may still be typed).
    expect(calls.map((c) => c.cmd)).toEqual(["plugin:dialog|open", "plugin:dialog|open"]);
    expect(screen.getByTestId("create-button")).toBeEnabled();
  });

  test("Browse… to open a project opens the folder chosen", async () => {
    const calls = backend({ "plugin:dialog|open": () => MOTHS.root, open_project: () => MOTHS });
    const user = userEvent.setup();
    const p = props();
    render(Welcome, p);
    await user.click(screen.getByRole("button", { name: "Choose a project folder to open" }));
    await vi.waitFor(() => expect(p.onopened).toHaveBeenCalledWith(MOTHS));
    expect(calls.at(-1)).toEqual({ cmd: "open_project", args: { dir: MOTHS.root } });
    expect(screen.getByTestId("open-dir")).toHaveValue(MOTHS.root);
  });

  test("a dialog that cannot open says so next to its form", async () => {
    backend({ "plugin:dialog|open": fail("dialog.open not allowed") });
    const user = userEvent.setup();
    render(Welcome, props());
    await user.click(screen.getByTestId("open-browse"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("dialog.open not allowed");
  });
});
