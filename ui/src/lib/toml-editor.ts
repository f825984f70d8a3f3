/** The Collection screen's `collection.toml` editor: CodeMirror 6 with TOML highlighting,
 *  line numbers, undo/redo and the line of a parse error marked. The text lives in the
 *  screen (the source of truth); this module keeps the editor and that text in step:
 *  what the user types goes out through `onChange`, text set from outside (a load, a form
 *  edit) comes in through `setText` as the smallest change, so the cursor and the undo
 *  history survive a form edit (and undo can take a form edit back). */

import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { HighlightStyle, StreamLanguage, syntaxHighlighting } from "@codemirror/language";
import { toml } from "@codemirror/legacy-modes/mode/toml";
import {
  Annotation,
  Compartment,
  EditorState,
  type Extension,
  RangeSetBuilder,
  StateEffect,
  StateField,
} from "@codemirror/state";
import {
  Decoration,
  type DecorationSet,
  EditorView,
  drawSelection,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
} from "@codemirror/view";
import { tags } from "@lezer/highlight";

/** One change that turns `from` into `to`: the common start and end are kept. */
export function smallestChange(from: string, to: string): { from: number; to: number; insert: string } | null {
  if (from === to) return null;
  let start = 0;
  const max = Math.min(from.length, to.length);
  while (start < max && from.charCodeAt(start) === to.charCodeAt(start)) start++;
  let end = 0;
  while (end < max - start && from.charCodeAt(from.length - 1 - end) === to.charCodeAt(to.length - 1 - end)) end++;
  return { from: start, to: from.length - end, insert: to.slice(start, to.length - end) };
}

/** Marks transactions that carry text set from outside (not typed): they are not echoed. */
const external = Annotation.define<boolean>();

/** Sets the 1-based line of the problem to mark, or null for none. */
const setProblemLine = StateEffect.define<number | null>();

const problemLineMark = Decoration.line({ class: "cm-problem-line", attributes: { "data-problem": "true" } });

/** The marked problem line, kept on its text as lines are added above it. */
const problemLine = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, tr) {
    marks = marks.map(tr.changes);
    for (const e of tr.effects) {
      if (!e.is(setProblemLine)) continue;
      const line = e.value;
      if (line === null || line < 1 || line > tr.state.doc.lines) {
        marks = Decoration.none;
      } else {
        const builder = new RangeSetBuilder<Decoration>();
        const at = tr.state.doc.line(line);
        builder.add(at.from, at.from, problemLineMark);
        marks = builder.finish();
      }
    }
    return marks;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** TOML colours from the app's palette (src/tokens.css). */
const tomlColours = HighlightStyle.define([
  { tag: tags.comment, color: "var(--text-faint)", fontStyle: "italic" },
  { tag: tags.propertyName, color: "var(--violet)" },
  { tag: tags.string, color: "var(--teal)" },
  { tag: tags.number, color: "var(--amber)" },
  { tag: tags.atom, color: "var(--coral)" },
  { tag: tags.bracket, color: "var(--text-dim)" },
]);

const theme = EditorView.theme(
  {
    "&": {
      color: "var(--text)",
      backgroundColor: "var(--bg-sunken)",
      border: "1px solid var(--line)",
      borderRadius: "var(--radius-sm)",
      fontSize: "var(--font-size-md)",
      minHeight: "32rem",
    },
    "&.cm-focused": { outline: "2px solid var(--violet-strong)", outlineOffset: "1px" },
    ".cm-scroller": { fontFamily: "var(--font-mono)", lineHeight: "1.5" },
    ".cm-content": { caretColor: "var(--text)", padding: "var(--space-3) 0" },
    ".cm-gutters": {
      backgroundColor: "var(--bg-sunken)",
      color: "var(--text-faint)",
      border: "none",
      borderRight: "1px solid var(--line)",
      borderTopLeftRadius: "var(--radius-sm)",
      borderBottomLeftRadius: "var(--radius-sm)",
    },
    ".cm-activeLine, .cm-activeLineGutter": { backgroundColor: "var(--bg-hover)" },
    ".cm-problem-line": { backgroundColor: "var(--danger-edge)" },
    "&.cm-focused .cm-selectionBackground, .cm-selectionBackground": { backgroundColor: "var(--violet-wash)" },
  },
  { dark: true },
);

export interface TomlEditorOptions {
  text: string;
  /** The text after each change the user makes (typing, paste, undo). */
  onChange: (text: string) => void;
  /** The id of the element that names the editor (its label). */
  labelledBy?: string;
}

export interface TomlEditor {
  readonly view: EditorView;
  /** The editor's text. */
  text(): string;
  /** Replaces the text from outside (not echoed to `onChange`); nothing happens when it is
   *  already the editor's text. */
  setText(text: string): void;
  /** Marks 1-based `line` as the problem's (null: no mark). */
  markProblemLine(line: number | null): void;
  /** Says to assistive technology whether the text has a problem (`aria-invalid`). */
  setInvalid(invalid: boolean): void;
  destroy(): void;
}

const invalidAttribute = (invalid: boolean) => EditorView.contentAttributes.of({ "aria-invalid": String(invalid) });

function extensions(options: TomlEditorOptions, invalid: Compartment): Extension[] {
  return [
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightActiveLine(),
    drawSelection(),
    history(),
    keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
    StreamLanguage.define(toml),
    syntaxHighlighting(tomlColours),
    problemLine,
    invalid.of(invalidAttribute(false)),
    theme,
    EditorView.contentAttributes.of({
      spellcheck: "false",
      autocapitalize: "off",
      "aria-multiline": "true",
      ...(options.labelledBy ? { "aria-labelledby": options.labelledBy } : {}),
    }),
    EditorView.updateListener.of((update) => {
      if (!update.docChanged) return;
      if (update.transactions.every((tr) => tr.annotation(external))) return;
      options.onChange(update.state.doc.toString());
    }),
  ];
}

/** A TOML editor in `parent` holding `options.text`. */
export function createTomlEditor(parent: HTMLElement, options: TomlEditorOptions): TomlEditor {
  const invalid = new Compartment();
  const view = new EditorView({
    parent,
    state: EditorState.create({ doc: options.text, extensions: extensions(options, invalid) }),
  });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText(text: string) {
      const change = smallestChange(view.state.doc.toString(), text);
      if (change) view.dispatch({ changes: change, annotations: external.of(true) });
    },
    markProblemLine(line: number | null) {
      view.dispatch({ effects: setProblemLine.of(line) });
    },
    setInvalid(yes: boolean) {
      view.dispatch({ effects: invalid.reconfigure(invalidAttribute(yes)) });
    },
    destroy: () => view.destroy(),
  };
}

/** The editor inside `element` (the component's root or anything in it), for tests and the
 *  WebDriver run: CodeMirror's view has no `value` to set. */
export function editorIn(element: Element): EditorView | null {
  const dom = element.classList.contains("cm-editor") ? element : element.querySelector(".cm-editor");
  return dom instanceof HTMLElement ? EditorView.findFromDOM(dom) : null;
}
