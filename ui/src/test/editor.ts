/** Driving the CodeMirror TOML editor (lib/components/TomlEditor.svelte) in jsdom, which has
 *  no layout: read its text and type into it through the editor's own view, as a keyboard
 *  would (a user "input.type" transaction at the cursor). */

import { editorIn } from "../lib/toml-editor";

function viewOf(element: Element) {
  const view = editorIn(element);
  if (!view) throw new Error("no CodeMirror editor in this element");
  return view;
}

/** The text the editor shows. */
export function editorText(element: Element): string {
  return viewOf(element).state.doc.toString();
}

/** Types `text` at the end of the editor's text (or at `at`). */
export function typeInEditor(element: Element, text: string, at?: number): void {
  const view = viewOf(element);
  const pos = at ?? view.state.doc.length;
  view.dispatch({
    changes: { from: pos, insert: text },
    selection: { anchor: pos + text.length },
    userEvent: "input.type",
  });
}
