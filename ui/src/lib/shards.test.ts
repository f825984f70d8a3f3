import { describe, expect, test } from "vitest";
import type { ImportReport, ShardCheck } from "./bindings";
import { checkView, folderName, importText, importTone, jobText, machinesProblem } from "./shards";
import { SHARD_JOB as JOB } from "../test/fixtures";

const CHECK: ShardCheck = { dir: "/jobs/moths-of-night-shard-1-of-3", job: JOB, found: 12, expected: 12, problem: null, notes: [] };

const REPORT: ImportReport = { shard: JOB.shard, imported: 12, already: 0, refused: [], missing: 0 };

describe("shard jobs", () => {
  test("the number of machines is a whole number from 1 to the number of items", () => {
    expect(machinesProblem(3, 12)).toBeNull();
    expect(machinesProblem(1, 12)).toBeNull();
    expect(machinesProblem(12, 12)).toBeNull();
    expect(machinesProblem(13, 12)).toBe("The collection has 12 items: at most 12 machines, one item each.");
    expect(machinesProblem(0, 12)).toMatch(/whole number, 1 or more/);
    expect(machinesProblem(2.5, 12)).toMatch(/whole number/);
    expect(machinesProblem(Number.NaN, 0)).toMatch(/whole number/);
    // Not planned yet: only the app's own cap applies (the export checks the rest).
    expect(machinesProblem(40, 0)).toBeNull();
    expect(machinesProblem(300, 0)).toBe("At most 256 machines.");
    expect(machinesProblem(300, 1000)).toBe("At most 256 machines.");
  });

  test("a job folder says which items it makes", () => {
    expect(jobText(JOB)).toBe(
      "This folder is shard job 1/3 of “Moths of Night”: it makes 12 images (4 items of 12, every item i with i mod 3 = 1, at 3 stages). Make them here, then take the whole folder back to the project it came from.",
    );
    expect(jobText({ ...JOB, images: 1, shard_items: 1, stages: 1 })).toContain("it makes 1 image (1 item of 12");
  });

  test("a checked folder is complete, partial, or refused with the reason", () => {
    expect(checkView(CHECK)).toEqual({
      text: "Shard job 1/3 of “Moths of Night”: 12 of 12 images found.",
      tone: "ok",
      importable: true,
    });
    expect(checkView({ ...CHECK, found: 5 })).toMatchObject({ tone: "warn", importable: true });
    const refused = checkView({ ...CHECK, found: 0, problem: "the folder holds no images of this collection yet" });
    expect(refused).toEqual({
      text: "Shard job 1/3 of “Moths of Night”: the folder holds no images of this collection yet",
      tone: "bad",
      importable: false,
    });
    expect(checkView({ ...CHECK, job: null }).text).toMatch(/^A shard folder without a job file: 12 of 12/);
  });

  test("an import says what came in, what was refused and what is still missing", () => {
    expect(importText(REPORT)).toBe("12 images imported. Every image kept was checked against its recipe.");
    expect(importTone(REPORT)).toBe("ok");
    const partial = { ...REPORT, imported: 1, already: 3, missing: 8 };
    expect(importText(partial)).toBe(
      "1 image imported, 3 already here. Every image kept was checked against its recipe. 8 images of this shard are not made yet: finish the job on its machine and import the folder again.",
    );
    expect(importTone(partial)).toBe("warn");
    const refused = {
      ...REPORT,
      imported: 0,
      missing: 1,
      refused: [{ file: "/jobs/x/build/stage-0/images/1.png", index: 1, stage: 0, reason: "its recipe … is not the one planned" }],
    };
    expect(importText(refused)).toBe(
      "0 images imported, 1 refused. 1 image of this shard is not made yet: finish the job on its machine and import the folder again.",
    );
    expect(importTone(refused)).toBe("bad");
  });

  test("folder names are the last part of a path", () => {
    expect(folderName("/jobs/moths-shard-0-of-3")).toBe("moths-shard-0-of-3");
    expect(folderName("C:\\jobs\\moths-shard-0-of-3\\")).toBe("moths-shard-0-of-3");
  });
});
