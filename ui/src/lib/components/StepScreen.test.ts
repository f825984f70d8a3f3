import { render, screen } from "@testing-library/svelte";
import { createRawSnippet } from "svelte";
import { expect, test } from "vitest";
import StepScreen from "./StepScreen.svelte";

const text = (html: string) => createRawSnippet(() => ({ render: () => html }));

test("numbers the step by its place on the path and names the section by its title", () => {
  render(StepScreen, {
    id: "mint",
    title: "Mint",
    lede: text("<span>Create the NFTs.</span>"),
    aside: text("<p>On Sandbox</p>"),
    children: text("<p>body</p>"),
  });
  const section = screen.getByRole("region", { name: "Mint" });
  expect(section).toHaveTextContent("Step 5");
  expect(section).toHaveTextContent("Create the NFTs.");
  expect(section).toHaveTextContent("On Sandbox");
  expect(section).toHaveTextContent("body");
});
