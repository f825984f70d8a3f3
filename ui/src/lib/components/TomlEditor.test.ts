import { render, screen } from "@testing-library/svelte";
import { describe, expect, test, vi } from "vitest";
import { editorText, typeInEditor } from "../../test/editor";
import TomlEditor from "./TomlEditor.svelte";

describe("TomlEditor", () => {
  test("shows its value, sends typing out, and takes a new value in", async () => {
    const oninput = vi.fn<(text: string) => void>();
    const view = render(TomlEditor, { value: "size = 12\n", oninput, problemLine: null });
    const editor = screen.getByTestId("toml-editor");
    expect(editorText(editor)).toBe("size = 12\n");
    typeInEditor(editor, "seed = 7\n");
    expect(oninput).toHaveBeenLastCalledWith("size = 12\nseed = 7\n");

    oninput.mockClear();
    await view.rerender({ value: "size = 14\n", oninput, problemLine: 1, invalid: true });
    expect(editorText(editor)).toBe("size = 14\n");
    expect(oninput).not.toHaveBeenCalled();
    expect(editor).toHaveAttribute("data-problem-line", "1");
    expect(editor.querySelector(".cm-problem-line")).toHaveTextContent("size = 14");
    expect(screen.getByRole("textbox")).toHaveAttribute("aria-invalid", "true");
  });

  test("a custom test id", () => {
    render(TomlEditor, { value: "", oninput: () => {}, testid: "other-editor" });
    expect(screen.getByTestId("other-editor").querySelector(".cm-editor")).not.toBeNull();
  });
});
