import { expect, test } from "vitest";
import { segments } from "./message";

test("backticks become code spans", () => {
  expect(segments("`/a b` is not a project; run `chrysalis init`.")).toEqual([
    { text: "/a b", code: true },
    { text: " is not a project; run ", code: false },
    { text: "chrysalis init", code: true },
    { text: ".", code: false },
  ]);
  expect(segments("no quotes")).toEqual([{ text: "no quotes", code: false }]);
  expect(segments("one ` tick")).toEqual([{ text: "one ` tick", code: false }]);
});
