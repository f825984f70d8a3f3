import { describe, expect, test } from "vitest";
import { formatBytes, formatDate } from "./format";

describe("format", () => {
  test("bytes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(53248)).toBe("52 KB");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(5 * 1024 ** 3)).toBe("5.0 GB");
    expect(formatBytes(-1)).toBe("unknown");
  });

  test("dates", () => {
    expect(formatDate("not a date")).toBe("not a date");
    expect(formatDate("2026-11-25T20:30:45Z", "en-GB")).toMatch(/25 Nov 2026/);
  });

});
