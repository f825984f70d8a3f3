import { redo, undo } from "@codemirror/commands";
import { afterEach, describe, expect, test, vi } from "vitest";
import { createTomlEditor, editorIn, smallestChange, type TomlEditor } from "./toml-editor";

const TEXT = '# Moths\nname = "Moths"\nsize = 12\n\n[art]\nwidth = 512 # px\n';

let editor: TomlEditor | null = null;
afterEach(() => {
  editor?.destroy();
  editor = null;
  document.body.innerHTML = "";
});

function make(text = TEXT) {
  const parent = document.createElement("div");
  document.body.append(parent);
  const onChange = vi.fn<(text: string) => void>();
  editor = createTomlEditor(parent, { text, onChange, labelledBy: "the-label" });
  return { parent, onChange, editor };
}

/** A keystroke's worth of typing at `at`. */
function type(e: TomlEditor, at: number, text: string) {
  e.view.dispatch({ changes: { from: at, insert: text }, userEvent: "input.type" });
}

describe("smallestChange", () => {
  test("keeps the common start and end", () => {
    expect(smallestChange("size = 12\n", "size = 14\n")).toEqual({ from: 8, to: 9, insert: "4" });
    expect(smallestChange("a\nb\n", "a\nx\nb\n")).toEqual({ from: 2, to: 2, insert: "x\n" });
    expect(smallestChange("abc", "")).toEqual({ from: 0, to: 3, insert: "" });
    expect(smallestChange("aaa", "aa")).toEqual({ from: 2, to: 3, insert: "" });
    expect(smallestChange("same", "same")).toBeNull();
  });
});

describe("the TOML editor", () => {
  test("shows the text with line numbers, TOML colours and a labelled text box", () => {
    const { parent, editor: e } = make();
    expect(e.text()).toBe(TEXT);
    expect(editorIn(parent)).toBe(e.view);
    const gutter = parent.querySelector(".cm-lineNumbers")!;
    expect(gutter).toHaveTextContent("1");
    const content = parent.querySelector(".cm-content")!;
    expect(content).toHaveAttribute("role", "textbox");
    expect(content).toHaveAttribute("aria-labelledby", "the-label");
    expect(content).toHaveAttribute("spellcheck", "false");
    // The comment, the key and the string are each their own highlighted span.
    const spans = [...content.querySelectorAll(".cm-line span")].map((s) => s.textContent);
    expect(spans).toEqual(expect.arrayContaining(["# Moths", "name", '"Moths"', "12", "[art]", "# px"]));
  });

  test("reports what the user types, but not text set from outside", () => {
    const { onChange, editor: e } = make();
    type(e, TEXT.length, "seed = 7\n");
    expect(onChange).toHaveBeenLastCalledWith(`${TEXT}seed = 7\n`);
    onChange.mockClear();
    e.setText(TEXT.replace("size = 12", "size = 14"));
    expect(e.text()).toBe(TEXT.replace("size = 12", "size = 14"));
    e.setText(e.text());
    expect(onChange).not.toHaveBeenCalled();
  });

  test("text set from outside keeps the cursor where it was and is one undo step", () => {
    const { onChange, editor: e } = make();
    const end = TEXT.length;
    e.view.dispatch({ selection: { anchor: end } });
    e.setText(TEXT.replace("size = 12", "size = 14"));
    expect(e.view.state.selection.main.head).toBe(end);
    undo(e.view);
    expect(e.text()).toBe(TEXT);
    expect(onChange).toHaveBeenLastCalledWith(TEXT);
    redo(e.view);
    expect(e.text()).toContain("size = 14");
  });

  test("undo and redo the user's typing", () => {
    const { onChange, editor: e } = make();
    type(e, 0, "x");
    expect(e.text()).toBe(`x${TEXT}`);
    undo(e.view);
    expect(e.text()).toBe(TEXT);
    expect(onChange).toHaveBeenLastCalledWith(TEXT);
  });

  test("marks the problem's line, follows it as lines are added above, and clears it", () => {
    const { parent, editor: e } = make();
    e.markProblemLine(3);
    expect(parent.querySelectorAll(".cm-problem-line")).toHaveLength(1);
    expect(parent.querySelector(".cm-problem-line")).toHaveTextContent("size = 12");
    type(e, 0, "# new\n");
    expect(parent.querySelector(".cm-problem-line")).toHaveTextContent("size = 12");
    e.markProblemLine(99);
    expect(parent.querySelector(".cm-problem-line")).toBeNull();
    e.markProblemLine(1);
    e.markProblemLine(null);
    expect(parent.querySelector(".cm-problem-line")).toBeNull();
  });

  test("says whether the text has a problem", () => {
    const { parent, editor: e } = make();
    const content = parent.querySelector(".cm-content")!;
    expect(content).toHaveAttribute("aria-invalid", "false");
    e.setInvalid(true);
    expect(content).toHaveAttribute("aria-invalid", "true");
  });
});
