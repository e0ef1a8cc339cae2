import { test, expect } from "./fixtures";
import { ADMIN, login } from "./helpers";

test.use({ javaScriptEnabled: false });

test("login works with JavaScript disabled", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await expect(page.getByTestId("current-user")).toContainText(ADMIN.email);
});

test("a wrong password is reported with JavaScript disabled", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password", { exact: true }).fill("wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("Wrong email or password");
});

test("an admin creates an API key with JavaScript disabled", async ({ page }) => {
  await login(page);
  await page.goto("/settings");
  await page.getByLabel("Name").fill("no-script sync");
  await page.getByLabel("Role").selectOption("staff");
  await page.getByRole("button", { name: "Create key" }).click();
  // The form posts its fields to the server function, which answers with a
  // redirect (to the dashboard: pages send no Referer); the key is listed on
  // the settings page. Its plaintext is shown only to a browser with JavaScript.
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await page.goto("/settings");
  await expect(page.getByRole("cell", { name: "no-script sync" })).toBeVisible();
});
