import { describe, expect, test } from "vitest";
import { backend, fail } from "../test/backend";
import {
  chooseFolder,
  chooseKeypairFile,
  chooseModelFile,
  chooseNewKeypairFile,
  choosePngDestination,
  dialogDefault,
} from "./dialogs";

describe("dialogs", () => {
  test("a folder dialog asks for one directory with its title and returns the choice", async () => {
    const calls = backend({ "plugin:dialog|open": () => "/models/sd15" });
    expect(await chooseFolder("Choose a model folder", "/models")).toBe("/models/sd15");
    expect(calls).toEqual([
      {
        cmd: "plugin:dialog|open",
        args: { options: { directory: true, multiple: false, title: "Choose a model folder", defaultPath: "/models" } },
      },
    ]);
  });

  test("the checkpoint dialog opens one .safetensors file", async () => {
    const calls = backend({ "plugin:dialog|open": () => "/models/v1-5.safetensors" });
    expect(await chooseModelFile("/models")).toBe("/models/v1-5.safetensors");
    expect(calls[0].args.options).toEqual({
      directory: false,
      multiple: false,
      title: "Open a Stable Diffusion checkpoint (.safetensors)",
      filters: [{ name: "Stable Diffusion checkpoint", extensions: ["safetensors"] }],
      defaultPath: "/models",
    });
  });

  test("the keypair dialog opens one JSON file", async () => {
    const calls = backend({ "plugin:dialog|open": () => "/home/ada/.config/solana/id.json" });
    expect(await chooseKeypairFile()).toBe("/home/ada/.config/solana/id.json");
    expect(calls[0].cmd).toBe("plugin:dialog|open");
    expect(calls[0].args.options).toEqual({
      directory: false,
      multiple: false,
      title: "Open a Solana keypair file",
      filters: [{ name: "Solana keypair", extensions: ["json"] }],
    });
  });

  test("save dialogs offer PNG or keypair filters and the current name", async () => {
    const calls = backend({ "plugin:dialog|save": () => "/home/ada/Pictures/moth-7.png" });
    expect(await choosePngDestination("~/Pictures/moth-7.png")).toBe("/home/ada/Pictures/moth-7.png");
    expect(calls[0]).toEqual({
      cmd: "plugin:dialog|save",
      args: { options: { title: "Export PNG", filters: [{ name: "PNG image", extensions: ["png"] }], defaultPath: "moth-7.png" } },
    });

    await chooseNewKeypairFile("/keys/new.json");
    expect(calls[1].args.options).toEqual({
      title: "Create a Solana keypair file",
      filters: [{ name: "Solana keypair", extensions: ["json"] }],
      defaultPath: "/keys/new.json",
    });
  });

  test("cancelling resolves to null", async () => {
    backend({ "plugin:dialog|open": () => null, "plugin:dialog|save": () => null });
    expect(await chooseFolder("Choose")).toBeNull();
    expect(await chooseKeypairFile("/keys/id.json")).toBeNull();
    expect(await chooseNewKeypairFile()).toBeNull();
    expect(await choosePngDestination("/tmp/a.png")).toBeNull();
  });

  test("a dialog that fails rejects with a CommandError", async () => {
    backend({ "plugin:dialog|open": fail("dialog.open not allowed") });
    await expect(chooseFolder("Choose")).rejects.toMatchObject({
      kind: "internal",
      message: expect.stringContaining("dialog.open not allowed"),
    });
  });

  test("default paths: `~` and empty paths offer only a file name", () => {
    expect(dialogDefault("")).toBeUndefined();
    expect(dialogDefault("  ")).toBeUndefined();
    expect(dialogDefault("~")).toBeUndefined();
    expect(dialogDefault("~/Pictures/a.png")).toBe("a.png");
    expect(dialogDefault(" /abs/dir ")).toBe("/abs/dir");
  });
});
