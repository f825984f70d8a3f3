import { describe, expect, test } from "vitest";
import { isCommandError, remedyFor, toCommandError } from "./errors";

describe("errors", () => {
  test("command errors pass through", () => {
    const e = { kind: "notFound", message: "`/x` does not exist." };
    expect(isCommandError(e)).toBe(true);
    expect(toCommandError(e)).toBe(e);
  });

  test("anything else becomes an internal error that says what happened", () => {
    const e = toCommandError("invalid args `dir` for command `open_project`");
    expect(e.kind).toBe("internal");
    expect(e.message).toContain("invalid args `dir`");
    expect(toCommandError(new Error("boom")).message).toContain("boom");
    expect(isCommandError({ kind: "nope", message: "x" })).toBe(false);
  });

  test("remedies", () => {
    expect(remedyFor("notAProject")?.action).toBe("create");
    expect(remedyFor("notFound")?.action).toBe("create");
    expect(remedyFor("alreadyProject")?.action).toBe("open");
    expect(remedyFor("storage")).toBeNull();
  });
});
