import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, test, vi } from "vitest";
import type { CollectionDoc, PlanReport } from "../lib/bindings";
import { SPEC } from "../test/collection";
import { backend } from "../test/backend";
import { editorText, typeInEditor } from "../test/editor";
import { commandError, MOTHS, PIXEL } from "../test/fixtures";
import Collection from "./Collection.svelte";

const TEXT = 'name = "Demo"\n';

function doc(over: Partial<CollectionDoc> = {}): CollectionDoc {
  return { text: TEXT, path: "/p/collection.toml", exists: true, spec: SPEC, problems: [], ...over };
}

const REPORT: PlanReport = {
  ok: true,
  problems: [],
  conflicts: [],
  quotas: [
    { trait_type: "Palette", value: "Kyoto", asked: 6, got: 6 },
    { trait_type: "Palette", value: "Ember", asked: 3, got: 3 },
    { trait_type: "Palette", value: "Aurora", asked: 3, got: 3 },
  ],
  unique: true,
  items: Array.from({ length: 12 }, (_, i) => ({ index: i, name: `Demo #${i + 1}`, seed: i, traits: [] })),
  stages: [
    { index: 0, name: "Seedling", unlock: { kind: "mint" } },
    { index: 1, name: "Grown", unlock: { kind: "after_mint", seconds: 86_400 } },
  ],
  price_lamports: 100_000_000,
};

describe("Collection", () => {
  test("loads the spec into the editor and the form, with problems next to their fields", async () => {
    backend({
      collection_load: () =>
        doc({ problems: [{ path: "creators", message: "shares sum to 9 500 bps, they must sum to 10 000 (100 %)" }] }),
    });
    render(Collection, { project: MOTHS });
    const editor = await screen.findByTestId("toml-editor");
    expect(editorText(editor)).toBe(TEXT);
    // CodeMirror: line numbers, and a text box named by its label.
    expect(editor.querySelector(".cm-lineNumbers")).toHaveTextContent("1");
    expect(screen.getByRole("textbox", { name: "collection.toml" })).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByTestId("field-name")).toHaveValue("Demo");
    expect(screen.getByTestId("shares-total")).toHaveTextContent("9 500 of 10 000 bps");
    const problem = screen.getAllByTestId("field-problem").find((p) => p.dataset.path === "creators")!;
    expect(screen.getByTestId("creators")).toContainElement(problem);
    expect(screen.getByTestId("problem-list")).toHaveTextContent("1 problem");
    expect(screen.getByTestId("save-status")).toHaveTextContent("Saved");
    expect(screen.getAllByTestId("trait-value")).toHaveLength(3);
  });

  test("validates as you type and shows parse errors with their line", async () => {
    const calls = backend({
      collection_load: () => doc(),
      collection_check: (args) =>
        doc({
          text: args.text as string,
          spec: null as never,
          parse_error: { message: "expected `=`", line: 2, column: 5, table: "[art]" },
        }),
    });
    const user = userEvent.setup();
    render(Collection, { project: MOTHS });
    const editor = await screen.findByTestId("toml-editor");
    // Real keystrokes into CodeMirror: to the end of the text, then type.
    await user.click(screen.getByRole("textbox", { name: "collection.toml" }));
    await user.keyboard("{Control>}{End}{/Control}oops");
    const error = await screen.findByTestId("parse-error", {}, { timeout: 2000 });
    expect(error).toHaveTextContent("Line 2, column 5 (in [art]): expected `=`");
    expect(calls.filter((c) => c.cmd === "collection_check")).toHaveLength(1);
    expect(calls.at(-1)!.args.text).toBe(`${TEXT}oops`);
    expect(screen.getByTestId("save-status")).toHaveTextContent("Unsaved changes");
    // The line of the parse error is marked in the editor.
    expect(editor).toHaveAttribute("data-problem-line", "2");
    const marked = editor.querySelector(".cm-problem-line");
    expect(marked).toHaveTextContent("oops");
    expect(screen.getByRole("textbox", { name: "collection.toml" })).toHaveAttribute("aria-invalid", "true");
  });

  test("a form edit writes the spec over the editor's text, and undo takes it back", async () => {
    const commented = '# My moths\nname = "Demo" # shown\n';
    const calls = backend({
      collection_load: () => doc({ text: commented }),
      collection_render: (args) =>
        doc({ text: (args.text as string).replace('"Demo"', '"Renamed"'), spec: args.spec as typeof SPEC }),
      collection_check: (args) => doc({ text: args.text as string }),
    });
    const user = userEvent.setup();
    render(Collection, { project: MOTHS });
    const name = await screen.findByTestId("field-name");
    await user.clear(name);
    await user.type(name, "Renamed");
    await user.tab();
    const editor = screen.getByTestId("toml-editor");
    await vi.waitFor(() => expect(editorText(editor)).toBe('# My moths\nname = "Renamed" # shown\n'));
    const render_ = calls.find((c) => c.cmd === "collection_render")!;
    expect(render_.args.text).toBe(commented);
    expect((render_.args.spec as typeof SPEC).name).toBe("Renamed");
    expect((render_.args.spec as typeof SPEC).size).toBe(12);
    expect(calls.filter((c) => c.cmd === "collection_check")).toHaveLength(0);

    // The form's rewrite is one step of the editor's history: Ctrl+Z in the editor takes it back.
    await user.click(screen.getByRole("textbox", { name: "collection.toml" }));
    await user.keyboard("{Control>}z{/Control}");
    expect(editorText(editor)).toBe(commented);
    await vi.waitFor(() => expect(calls.at(-1)).toMatchObject({ cmd: "collection_check", args: { text: commented } }), {
      timeout: 2000,
    });
  });

  test("a form edit right after typing applies to the typed text", async () => {
    const calls = backend({
      collection_load: () => doc(),
      collection_check: (args) => doc({ text: args.text as string }),
      collection_render: (args) => doc({ text: `${args.text as string}# rendered\n`, spec: args.spec as typeof SPEC }),
    });
    const user = userEvent.setup();
    render(Collection, { project: MOTHS });
    const editor = await screen.findByTestId("toml-editor");
    typeInEditor(editor, "# typed\n");
    await user.clear(screen.getByTestId("field-symbol"));
    await user.type(screen.getByTestId("field-symbol"), "NEW");
    await user.tab();
    await vi.waitFor(() => expect(editorText(editor)).toBe(`${TEXT}# typed\n# rendered\n`));
    const cmds = calls.map((c) => c.cmd);
    expect(cmds.indexOf("collection_check")).toBeLessThan(cmds.indexOf("collection_render"));
    expect(calls.find((c) => c.cmd === "collection_render")!.args.text).toBe(`${TEXT}# typed\n`);
  });

  test("save writes the editor's text", async () => {
    const calls = backend({
      collection_load: () => doc({ exists: false }),
      collection_save: (args) => doc({ text: args.text as string }),
    });
    const user = userEvent.setup();
    render(Collection, { project: MOTHS });
    expect(await screen.findByTestId("save-status")).toHaveTextContent("Not saved yet");
    await user.click(screen.getByTestId("save"));
    await vi.waitFor(() => expect(screen.getByTestId("save-status")).toHaveTextContent("Saved"));
    expect(calls.at(-1)).toMatchObject({ cmd: "collection_save", args: { text: TEXT } });
    expect(screen.getByTestId("save")).toBeDisabled();
  });

  test("an invalid spec is saved, and the status says how many problems it has", async () => {
    const problems = [
      { path: "creators", message: "shares sum to 9 500 bps, they must sum to 10 000 (100 %)" },
      { path: "size", message: "must be at least 1" },
    ];
    const calls = backend({
      collection_load: () => doc({ exists: false }),
      collection_check: (args) => doc({ text: args.text as string, problems }),
      collection_save: (args) => doc({ text: args.text as string, problems }),
    });
    const user = userEvent.setup();
    render(Collection, { project: MOTHS });
    typeInEditor(await screen.findByTestId("toml-editor"), "size = 0");
    await vi.waitFor(() => expect(screen.getByTestId("problem-list")).toHaveTextContent("2 problems"), { timeout: 2000 });
    await user.click(screen.getByTestId("save"));
    await vi.waitFor(() => expect(screen.getByTestId("save-status")).toHaveTextContent("Saved — 2 problems"));
    expect(calls.filter((c) => c.cmd === "collection_save")).toHaveLength(1);
    expect(screen.getByTestId("save-status")).toHaveClass("warn");
  });

  test("the heading is the path's step, and cards have their own padding", async () => {
    backend({ collection_load: () => doc(), collection_plan: () => REPORT });
    const user = userEvent.setup();
    render(Collection, { project: MOTHS });
    expect(await screen.findByRole("heading", { level: 1, name: "Collection" })).toBeInTheDocument();
    expect(screen.getByText("Step 3")).toBeInTheDocument();
    await user.click(await screen.findByTestId("plan"));
    // Card (lib/components/Card.svelte) pads its content: the plan and the form are cards.
    expect(await screen.findByTestId("plan-report")).toHaveClass("card", "box");
    expect(screen.getByTestId("spec-form")).toHaveClass("card", "box");
    expect(screen.getByRole("heading", { name: "Stage previews" }).closest(".card")).toHaveClass("box");
  });

  test("the plan shows quotas asked vs got and the stages", async () => {
    backend({ collection_load: () => doc(), collection_plan: () => REPORT });
    const user = userEvent.setup();
    render(Collection, { project: MOTHS });
    await user.click(await screen.findByTestId("plan"));
    const report = await screen.findByTestId("plan-report");
    expect(report).toHaveAttribute("data-ok", "true");
    expect(screen.getByTestId("plan-summary")).toHaveTextContent("12 items planned");
    expect(screen.getByTestId("plan-summary")).toHaveTextContent("price 0.1 SOL");
    const rows = screen.getAllByTestId("quota-row");
    expect(rows).toHaveLength(3);
    expect(rows[0]).toHaveTextContent("Kyoto66");
    expect(screen.getByTestId("plan-stages")).toHaveTextContent("Grown: 1 day after mint");
  });

  test("conflicts are listed with the constraints involved", async () => {
    backend({
      collection_load: () => doc(),
      collection_plan: () => ({
        ...REPORT,
        ok: false,
        quotas: [],
        items: [],
        conflicts: [
          {
            kind: "require_short",
            message: "A = a1 (40) require B = b1: 40 items need it but its quota is 30",
            constraints: ["rules[0]"],
          },
        ],
      }),
    });
    const user = userEvent.setup();
    render(Collection, { project: MOTHS });
    await user.click(await screen.findByTestId("plan"));
    const list = await screen.findByTestId("conflicts");
    expect(list).toHaveTextContent("40 items need it but its quota is 30");
    expect(list).toHaveTextContent("rules[0]");
    expect(list.querySelector("li")).toHaveAttribute("data-kind", "require_short");
  });

  test("stage previews of a chosen item", async () => {
    const calls = backend({
      collection_load: () => doc(),
      collection_preview: () => [
        { stage: 0, name: "Seedling", data_url: PIXEL, width: 256, height: 256 },
        { stage: 1, name: "Grown", data_url: PIXEL, width: 256, height: 256 },
      ],
    });
    const user = userEvent.setup();
    render(Collection, { project: MOTHS });
    const item = await screen.findByTestId("preview-item");
    await user.clear(item);
    await user.type(item, "5");
    await user.click(screen.getByTestId("preview"));
    const strip = await screen.findByTestId("preview-strip");
    expect(strip.querySelectorAll("img")).toHaveLength(2);
    expect(strip).toHaveTextContent("1. Grown");
    expect(calls.at(-1)).toMatchObject({ cmd: "collection_preview", args: { text: TEXT, index: 4, side: null } });
  });

  test("a failed load says why", async () => {
    backend({
      collection_load: () => Promise.reject(commandError("noProject", "No project is open.")),
    });
    render(Collection, { project: MOTHS });
    expect(await screen.findByText("No project is open.")).toBeInTheDocument();
  });
});
