import { render, screen } from "@testing-library/svelte";
import { expect, test } from "vitest";
import { SCREENS } from "../screens";
import ComingNext from "./ComingNext.svelte";

test("a screen not built yet says what it will do", () => {
  const royalties = SCREENS.find((s) => s.id === "royalties")!;
  render(ComingNext, { screen: { ...royalties, component: null } });
  const page = screen.getByTestId("coming-next");
  expect(page).toHaveAttribute("data-screen", "royalties");
  expect(page).toHaveTextContent("Royalties");
  expect(page).toHaveTextContent(royalties.about);
});
