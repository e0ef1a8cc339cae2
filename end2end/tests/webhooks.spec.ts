import { allowConsoleErrors, test, expect } from "./fixtures";
import AxeBuilder from "@axe-core/playwright";
import { createWebhookViaApi, hydrated, liveOpen, login, publish, startReceiver } from "./helpers";

test.describe.configure({ mode: "serial" });

test.beforeEach(async ({ page }) => {
  page.on("dialog", (d) => d.accept());
  await login(page);
});

test("create a webhook with two events, send a test, see it in the history with attempts", async ({ page, request }) => {
  const rx = await startReceiver();
  await page.goto("/webhooks");
  await hydrated(page);
  await page.getByRole("button", { name: "New webhook" }).click();
  const form = page.getByRole("form", { name: "New webhook" });
  await form.getByLabel("Name").fill("Clinic sync");
  await form.getByLabel("Endpoint URL").fill("not a url");
  await expect(form.getByText("The URL must start with https:// or http://")).toBeVisible();
  await form.getByLabel("Endpoint URL").fill(rx.url);
  await form.getByLabel("appointment.completed").check();
  await form.getByLabel("invoice.paid").check();
  await form.getByText("Advanced").click();
  await form.getByLabel(/Max attempts/).fill("3");
  await form.getByLabel("Filter field").fill("amount");
  await form.getByLabel("Filter operator").selectOption("greater_than");
  await form.getByLabel("Filter value").fill("5");
  await page.screenshot({ path: "test-results/screens/webhook-create.png", fullPage: true });
  await form.getByRole("button", { name: "Create webhook" }).click();
  await expect(page.getByTestId("new-secret")).toContainText("whsec_");
  const row = page.getByTestId("webhook-row").filter({ hasText: "Clinic sync" });
  await expect(row).toBeVisible();

  await row.getByRole("button", { name: "Test" }).click();
  await expect(row.getByTestId("test-result")).toContainText("Delivered: HTTP 200");
  expect(rx.hits.length).toBe(1);
  expect(rx.hits[0].headers["webhook-signature"]).toMatch(/^v1,/);

  // The payload filter (amount > 5) selects which events are delivered.
  expect((await publish(request, "invoice.paid", { id: "inv_small", amount: 1 })).deliveries).toBe(0);
  expect((await publish(request, "invoice.paid", { id: "inv_e2e", amount: 10 })).deliveries).toBe(1);
  await expect.poll(() => rx.hits.length).toBe(2);

  await row.getByRole("link", { name: "Clinic sync" }).click();
  await expect(page.getByTestId("webhook-name")).toHaveText("Clinic sync");
  await expect(page.getByTestId("delivery-row")).toHaveCount(2);
  await expect(page.getByTestId("delivery-row").first()).toContainText("1 of 3");
  await page.getByTestId("delivery-row").filter({ hasText: "invoice.paid" }).getByRole("button", { name: "Details" }).click();
  const drawer = page.getByRole("dialog", { name: "Delivery details" });
  await expect(drawer.getByTestId("attempt")).toHaveCount(1);
  await expect(drawer).toContainText("HTTP 200");
  await expect(drawer).toContainText("inv_e2e");
  await page.screenshot({ path: "test-results/screens/webhook-detail.png", fullPage: true });
  await drawer.getByRole("button", { name: "Close" }).click();
  await rx.close();
});

test("a failing receiver shows the retry, then success", async ({ page, request }) => {
  const rx = await startReceiver([500]);
  const w = await createWebhookViaApi(request, "Flaky receiver", rx.url, ["lab_test.completed"]);
  await publish(request, "lab_test.completed", { id: "lab_1" });
  await page.goto(`/webhooks/${w.id}`);
  await hydrated(page);
  const row = page.getByTestId("delivery-row").first();
  // The seed's first retry comes about 5 seconds after the 500; the page updates live.
  await expect(row).toContainText("succeeded", { timeout: 20_000 });
  await expect(row).toContainText("2 of 5");
  await row.getByRole("button", { name: "Details" }).click();
  await expect(page.getByTestId("attempt")).toHaveCount(2);
  await expect(page.getByTestId("attempt").first()).toContainText("HTTP 500");
  await expect(page.getByTestId("attempt").last()).toContainText("HTTP 200");
  await rx.close();
});

test("toggle, edit, regenerate the secret and delete with confirmation", async ({ page, request }) => {
  // The refused edit below is answered 422, which the browser logs.
  allowConsoleErrors(/status of 422/);
  const rx = await startReceiver();
  const w = await createWebhookViaApi(request, "Editable", rx.url, ["client.created"]);
  await page.goto(`/webhooks/${w.id}`);
  await hydrated(page);
  const secret = page.getByTestId("secret");
  await expect(secret).toContainText("••••");
  await page.getByRole("button", { name: "Reveal" }).click();
  await expect(secret).toHaveText(w.secret);

  await page.getByLabel("Active").uncheck();
  await expect(page.getByTestId("status-badge").first()).toHaveText("paused");
  await page.getByLabel("Active").check();
  await expect(page.getByTestId("status-badge").first()).toHaveText("active");

  await page.getByRole("button", { name: "Edit" }).click();
  const form = page.getByRole("form", { name: "Edit webhook" });
  await form.getByLabel("Name").fill("Edited name");
  await form.getByLabel("Endpoint URL").fill("http://10.0.0.1/hook");
  const refused = page.waitForResponse((r) => r.url().includes("/rpc/update_webhook"));
  await form.getByRole("button", { name: "Save changes" }).click();
  expect((await refused).status(), "a refused edit is a client error, not a server failure").toBe(422);
  await expect(form.getByRole("alert")).toContainText("private");
  await expect(form.getByLabel("Name")).toHaveValue("Edited name");
  await form.getByLabel("Endpoint URL").fill(rx.url);
  await form.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByTestId("webhook-name")).toHaveText("Edited name");

  await page.getByRole("button", { name: "Regenerate secret" }).click();
  await expect(page.getByText("The previous secret is still accepted until")).toBeVisible();
  await page.getByRole("button", { name: "Reveal" }).click();
  await expect(secret).not.toHaveText(w.secret);

  await page.getByRole("button", { name: "Delete" }).click();
  await expect(page).toHaveURL(/\/webhooks$/);
  await expect(page.getByTestId("webhook-row").filter({ hasText: "Edited name" })).toHaveCount(0);
  await rx.close();
});

test("a re-enabled webhook offers to replay the events it missed while off", async ({ page, request }) => {
  const rx = await startReceiver();
  const w = await createWebhookViaApi(request, "Replayer", rx.url, ["medical_record.updated"]);
  await page.goto(`/webhooks/${w.id}`);
  await hydrated(page);
  await page.getByLabel("Active").uncheck();
  await expect(page.getByTestId("status-badge").first()).toHaveText("paused");
  const accepted = await publish(request, "medical_record.updated", { id: "mr_missed" });
  expect(accepted.deliveries).toBe(0);

  await page.getByLabel("Active").check();
  const offer = page.getByTestId("replay-offer");
  await expect(offer).toContainText("were not sent to it");
  await offer.getByRole("link", { name: "replay what it missed" }).click();
  await expect(page).toHaveURL(/#recover$/);
  await page.getByLabel("Since").fill(new Date().toISOString().slice(0, 10));
  await expect(page.getByLabel("Also send events it missed while off")).toBeChecked();
  await page.getByRole("button", { name: "Re-send them" }).click();
  await expect(page.getByRole("status").filter({ hasText: "missed events queued" })).toHaveText(
    "0 failed deliveries queued again; 1 missed events queued.",
  );
  await expect.poll(() => rx.hits.length, { timeout: 10_000 }).toBe(1);
  expect(JSON.parse(rx.hits[0].body).data.id).toBe("mr_missed");
  await expect(page.getByTestId("delivery-row").first()).toContainText("succeeded", { timeout: 10_000 });
  await rx.close();
});

test("filters and pagination over 200 deliveries", async ({ page, request }) => {
  test.setTimeout(120_000);
  const rx = await startReceiver();
  const w = await createWebhookViaApi(request, "Busy", rx.url, ["prescription.created", "prescription.refilled"]);
  for (let i = 0; i < 200; i++) {
    await publish(request, i < 150 ? "prescription.created" : "prescription.refilled", { id: `rx_${i}` });
  }
  await expect.poll(() => rx.hits.length, { timeout: 20_000 }).toBe(200);
  await page.goto(`/webhooks/${w.id}`);
  await hydrated(page);
  await expect(page.getByTestId("page-indicator").last()).toHaveText("Page 1 of 10");
  await expect(page.getByTestId("delivery-row")).toHaveCount(20);
  await page.getByRole("button", { name: "Next" }).last().click();
  await expect(page.getByTestId("page-indicator").last()).toHaveText("Page 2 of 10");
  await page.getByLabel("Filter by event").fill("prescription.refilled");
  await page.getByLabel("Filter by event").press("Enter");
  await expect(page.getByTestId("page-indicator").last()).toHaveText("Page 1 of 3");
  await page.getByLabel("Filter by status").selectOption("failed");
  await expect(page.getByText("No deliveries match.")).toBeVisible();
  await rx.close();
});

test("the stats strip and the notification bell update live", async ({ page, request }) => {
  const gone = await startReceiver([410]);
  await createWebhookViaApi(request, "Gone away", gone.url, ["invoice.overdue"]);
  await page.goto("/webhooks");
  await hydrated(page);
  await liveOpen(page);
  const deliveries = page.getByTestId("live-deliveries");
  await expect(deliveries).not.toHaveText("…");
  const before = Number(await deliveries.textContent());
  await expect(page.getByTestId("unread-count")).toHaveCount(0);
  await publish(request, "invoice.overdue", { id: "inv_late" });
  await expect(deliveries).toHaveText(String(before + 1));
  // 410 Gone disables the webhook and notifies admins: the bell shows it without a reload.
  await expect(page.getByTestId("unread-count")).toHaveText("1");
  await page.getByTestId("bell").click();
  await expect(page.getByTestId("notification").first()).toContainText("Gone away");
  await page.screenshot({ path: "test-results/screens/notifications.png", fullPage: true });
  await page.getByRole("button", { name: "Mark all as read" }).click();
  await expect(page.getByTestId("unread-count")).toHaveCount(0);
  await gone.close();
});

test("the dashboard shows volume over time and the webhooks that need attention", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByRole("img", { name: /deliveries in the last 14 days/ })).toBeVisible();
  await expect(page.getByTestId("unhealthy-webhooks")).toContainText("Gone away");
  await page.screenshot({ path: "test-results/screens/dashboard-data.png", fullPage: true });
});

test("names are escaped, and the pages have no serious accessibility violations", async ({ page, request }) => {
  const rx = await startReceiver();
  await createWebhookViaApi(request, "<script>alert(1)</script>", rx.url, ["patient.created"]);
  let alerted = false;
  page.on("dialog", () => (alerted = true));
  await page.goto("/webhooks");
  await hydrated(page);
  await expect(page.getByText("<script>alert(1)</script>")).toBeVisible();
  expect(alerted).toBe(false);
  await page.screenshot({ path: "test-results/screens/webhooks.png", fullPage: true });
  for (const path of ["/webhooks", "/", "/notifications", "/settings"]) {
    await page.goto(path);
    await hydrated(page);
    const results = await new AxeBuilder({ page }).analyze();
    const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(bad.map((v) => `${path}: ${v.id} ${v.help}`)).toEqual([]);
  }
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ["/webhooks", "/", "/settings"]) {
    await page.goto(path);
    await hydrated(page);
    // Nothing pushes the page sideways at phone width (wide tables scroll inside their box).
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  }
  await page.goto("/webhooks");
  await page.screenshot({ path: "test-results/screens/webhooks-phone.png", fullPage: true });
  await rx.close();
});
