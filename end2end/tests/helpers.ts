import { expect, Page } from "@playwright/test";

export const ADMIN = { email: "admin@example.com", password: "correct horse battery" };
export const STAFF = { email: "staff@example.com", password: "staff password 123" };

/** Waits until the WASM has hydrated the page, so clicks are not lost. */
export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toHaveCount(1);
}

export async function login(page: Page, who = ADMIN) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password", { exact: true }).fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toContainText(who.email);
}
