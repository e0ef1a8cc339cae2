import { allowConsoleErrors, test, expect } from "./fixtures";
import { ADMIN, STAFF, hydrated, login } from "./helpers";

test("a signed-out visitor is sent to the login page", async ({ page }) => {
  await page.goto("/webhooks");
  await expect(page).toHaveURL(/\/login\?next=%2Fwebhooks/);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});

test("a wrong password shows a clear error and keeps the email", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password", { exact: true }).fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  const alert = page.getByRole("alert");
  await expect(alert).toContainText("Wrong email or password");
  await expect(page.getByLabel("Email")).toHaveValue(ADMIN.email);
});

test("repeated wrong passwords make the account wait, and the page says how long", async ({ page }) => {
  // An email of its own: the throttle must not touch the other tests' accounts.
  // Five failures are free; the next attempt (within a second of the fifth, or
  // within the doubled wait after that) is refused before its password is checked.
  const throttled = /Too many failed sign-ins\. Wait \d+ seconds?, then try again\./;
  let seen = false;
  for (let i = 0; i < 8 && !seen; i++) {
    await page.goto("/login");
    await page.getByLabel("Email").fill("guesser@example.com");
    await page.getByLabel("Password", { exact: true }).fill(`guess ${i}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await expect(alert).toBeVisible();
    seen = throttled.test((await alert.textContent()) ?? "");
    if (i < 5) expect(seen, `attempt ${i + 1} is free`).toBe(false);
  }
  expect(seen).toBe(true);
  await expect(page.getByLabel("Email")).toHaveValue("guesser@example.com");
});

test("log in, see the shell, visit every section, log out", async ({ page }) => {
  await login(page);
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const section of ["Webhooks", "Workflows", "Executions", "Notifications", "Settings", "Dashboard"]) {
    await nav.getByRole("link", { name: section }).click();
    await expect(page.getByRole("heading", { level: 1, name: section })).toBeVisible();
    await expect(nav.getByRole("link", { name: section })).toHaveAttribute("aria-current", "page");
  }
  await page.screenshot({ path: "test-results/screens/dashboard.png", fullPage: true });
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login/);
});

test("the page is hydrated: client-side interactions work", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  const password = page.getByLabel("Password", { exact: true });
  await expect(password).toHaveAttribute("type", "password");
  await page.getByLabel("Show password").check();
  await expect(password).toHaveAttribute("type", "text");

  await login(page);
  await hydrated(page);
  await page.setViewportSize({ width: 390, height: 800 });
  const menu = page.getByRole("button", { name: "Menu" });
  await expect(menu).toHaveAttribute("aria-expanded", "false");
  await menu.click();
  await expect(menu).toHaveAttribute("aria-expanded", "true");
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Webhooks" })).toBeVisible();
});

test("an unknown page shows the 404 page", async ({ page }) => {
  allowConsoleErrors(/status of 404/);
  await login(page);
  const resp = await page.goto("/no-such-page");
  expect(resp?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});

test("staff see that API keys are for admins", async ({ page }) => {
  await login(page, STAFF);
  await page.goto("/settings");
  await expect(page.getByText("API keys are managed by admins.")).toBeVisible();
});

test("an admin creates an API key in the browser and it works on the API", async ({ page, request }) => {
  await login(page);
  await page.goto("/settings");
  await hydrated(page);
  await page.getByLabel("Name").fill("e2e integration");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = (await page.getByTestId("new-api-key").textContent())!.trim();
  expect(key).toMatch(/^pck_/);
  await expect(page.getByRole("cell", { name: "e2e integration" })).toBeVisible();

  const ok = await request.get("/api/v1/me", { headers: { Authorization: `Bearer ${key}` } });
  expect(ok.status()).toBe(200);
  expect((await ok.json()).name).toBe("e2e integration");
  const denied = await request.get("/api/v1/me", { headers: { Authorization: "Bearer pck_wrong" } });
  expect(denied.status()).toBe(401);
  expect(denied.headers()["content-type"]).toContain("application/problem+json");
});
