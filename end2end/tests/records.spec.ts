import { test, expect } from "./fixtures";
import AxeBuilder from "@axe-core/playwright";
import { apiKey, createRecord, createWebhookViaApi, hydrated, login, publish, startReceiver } from "./helpers";

test.beforeEach(async ({ page }) => {
  await login(page);
});

test("open a client, see their patients and appointments, follow an event to its delivery", async ({ page, request }) => {
  const rx = await startReceiver();
  const hook = await createWebhookViaApi(request, "Visits", rx.url, ["appointment.created"]);
  const client = await createRecord(request, "client", { firstName: "Nora", lastName: "Quill", email: "nora@example.com" });
  const pet = await createRecord(request, "patient", { name: "Pumpkin", species: "cat", ownerId: client.id });
  const visit = await createRecord(request, "appointment", {
    patientId: pet.id,
    vetName: "Dr Hughes",
    startsAt: "2026-12-24T10:00:00Z",
    reason: "Booster shots",
  });
  await expect.poll(() => rx.hits.length).toBe(1);

  await page.goto("/records?entity=client");
  await hydrated(page);
  await page.getByLabel("Search").fill("quill");
  await page.getByTestId("record-row").getByRole("link", { name: "Nora Quill" }).click();
  await expect(page.getByTestId("record-title")).toHaveText("Nora Quill");
  const related = page.getByTestId("related-records");
  await expect(related).toContainText("Pumpkin");
  await expect(related).toContainText("Booster shots");
  await page.screenshot({ path: "test-results/screens/record-client.png", fullPage: true });

  await related.getByRole("link", { name: "Booster shots" }).click();
  await expect(page.getByTestId("record-title")).toHaveText("Booster shots");
  const event = page.getByTestId("record-event").filter({ hasText: "appointment.created" });
  await expect(event).toBeVisible();
  await event.getByRole("link", { name: /Delivery/ }).click();
  await expect(page).toHaveURL(new RegExp(`/webhooks/${hook.id}\\?delivery=`));
  const drawer = page.getByRole("dialog", { name: "Delivery details" });
  await expect(drawer).toContainText(visit.id);
  await expect(drawer).toContainText("HTTP 200");
  const gone = await request.delete(`/api/v1/webhooks/${hook.id}`, { headers: { Authorization: `Bearer ${apiKey()}` } });
  expect(gone.status()).toBe(204);
  await rx.close();
});

test("the appointments list filters by status, and the pages have no serious accessibility violations", async ({ page, request }) => {
  const client = await createRecord(request, "client", { firstName: "Ivo", lastName: "Marsh" });
  const pet = await createRecord(request, "patient", { name: "Biscuit", species: "rabbit", ownerId: client.id });
  for (const day of ["10", "11"]) {
    await createRecord(request, "appointment", { patientId: pet.id, vetName: "Dr Novak", startsAt: `2026-12-${day}T09:00:00Z` });
  }
  await page.goto("/records?entity=appointment");
  await hydrated(page);
  await expect(page.getByTestId("record-row").first()).toBeVisible();
  await page.getByLabel("Status").selectOption("completed");
  await expect(page.getByText("No appointments match.")).toBeVisible();
  await page.getByLabel("Status").selectOption("scheduled");
  await expect(page.getByTestId("record-row").filter({ hasText: "Biscuit" })).toHaveCount(2);
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious, JSON.stringify(serious, null, 2)).toEqual([]);
});

test("the request inspector shows a signed delivery as valid", async ({ page, request, baseURL }) => {
  // An event no other spec counts deliveries of; the webhook is deleted at the end.
  const hook = await createWebhookViaApi(request, "To the inspector", `${baseURL}/inspector/e2e-bin`, ["prescription.refilled"]);
  await publish(request, "prescription.refilled", { prescriptionId: "rx_e2e_inspector" });
  await page.goto("/inspector?bin=e2e-bin");
  await hydrated(page);
  const req = page.getByTestId("inspected-request").filter({ hasText: "prescription.refilled" });
  await expect(req).toBeVisible();
  await expect(req.getByTestId("signature")).toHaveText("signature valid");
  await page.screenshot({ path: "test-results/screens/inspector.png", fullPage: true });
  const gone = await request.delete(`/api/v1/webhooks/${hook.id}`, { headers: { Authorization: `Bearer ${apiKey()}` } });
  expect(gone.status()).toBe(204);
});
