import { test, expect } from "./fixtures";
import AxeBuilder from "@axe-core/playwright";
import { APIRequestContext } from "@playwright/test";
import { apiKey, createRecord, hydrated, login } from "./helpers";

test.beforeEach(async ({ page }) => {
  await login(page);
});

async function createTemplate(request: APIRequestContext, body: object) {
  const resp = await request.post("/api/v1/workflow-templates", {
    headers: { Authorization: `Bearer ${apiKey()}` },
    data: body,
  });
  expect(resp.status(), await resp.text()).toBe(201);
  return resp.json();
}

async function execute(request: APIRequestContext, id: string, triggerData: object) {
  const resp = await request.post(`/api/v1/workflow-templates/${id}/execute`, {
    headers: { Authorization: `Bearer ${apiKey()}` },
    data: { triggerData },
  });
  expect(resp.status(), await resp.text()).toBe(202);
  return (await resp.json()).executionId as string;
}

test("run the seed's follow-up from the library, watch it complete live, read the email in the Mailbox", async ({ page, request }) => {
  const owner = await createRecord(request, "client", { firstName: "Tess", lastName: "Lowe", email: "tess@example.com" });
  const pet = await createRecord(request, "patient", { name: "Marmalade", species: "cat", ownerId: owner.id });
  const name = `Patient Follow-up ${Date.now()}`;
  await createTemplate(request, {
    name,
    description: "Send follow-up email after appointment",
    category: "patient_care",
    triggerType: "event",
    triggerConfig: { event: "appointment.completed" },
    actions: [
      { id: "action-1", type: "wait", name: "Wait 2 seconds", config: { duration: 2000 } },
      {
        id: "action-2",
        type: "send_email",
        name: "Send follow-up email",
        config: { to: "{{patient.owner.email}}", subject: "Follow-up on {{patient.name}}", template: "patient_followup" },
      },
    ],
    isPublic: false,
  });

  await page.goto("/workflows");
  await hydrated(page);
  await page.getByLabel("Search").fill(name);
  const card = page.getByTestId("template-card").filter({ hasText: name });
  await expect(card.getByTestId("trigger")).toHaveText("When an appointment is completed");
  await expect(card.getByTestId("last-run")).toHaveText("Never run");
  await page.screenshot({ path: "test-results/screens/workflows.png", fullPage: true });
  await card.getByRole("button", { name: "Run…" }).click();
  await card.getByLabel("Trigger data (JSON)").fill(JSON.stringify({ patientId: pet.id }));
  await card.getByRole("button", { name: "Run now" }).click();
  await card.getByRole("link", { name: "watch the execution" }).click();

  await expect(page.getByTestId("execution-name")).toHaveText(name);
  // Rendered in the browser after a client-side navigation: the practice's zone, named.
  await expect(page.getByTestId("execution-status")).toContainText(/waiting until \d{4}-\d\d-\d\d \d\d:\d\d (GMT|BST)$/);
  // No reload: the page follows the run over the live stream.
  await expect(page.getByTestId("execution-status")).toHaveText("completed", { timeout: 15_000 });
  await expect(page.getByTestId("step-status")).toHaveText(["completed", "completed"]);
  await page.screenshot({ path: "test-results/screens/execution.png", fullPage: true });

  await page.getByRole("link", { name: "Mailbox" }).click();
  const mail = page.getByTestId("email").filter({ hasText: "Follow-up on Marmalade" });
  await expect(mail).toContainText("to tess@example.com");
  await expect(mail).toContainText("Dear Tess");
  await page.screenshot({ path: "test-results/screens/mailbox.png", fullPage: true });

  // The library card tells how the last run went, and the server-rendered
  // list names the zone too.
  await page.goto("/workflows");
  await hydrated(page);
  await page.getByLabel("Search").fill(name);
  await expect(card.getByTestId("last-run")).toContainText(/Last run: completed \d{4}-\d\d-\d\d \d\d:\d\d (GMT|BST)/);
  await page.goto("/executions");
  await expect(page.getByRole("row").filter({ hasText: name }).first()).toContainText(/\d\d:\d\d:\d\d (GMT|BST)/);
});

test("duplicate a template, make it public, and delete it with a dialog that counts the runs not ended", async ({ page, request }) => {
  const name = `Library ${Date.now()}`;
  const t = await createTemplate(request, {
    name,
    description: "Waits a day",
    category: "operations",
    triggerType: "manual",
    actions: [{ id: "w", type: "wait", name: "Wait a day", config: { duration: 86400000 } }],
  });
  await execute(request, t.id, {});

  await page.goto("/workflows");
  await hydrated(page);
  await page.getByLabel("Search").fill(name);
  const original = page.getByTestId("template-card").filter({ hasText: name }).filter({ hasNotText: "(copy)" });
  await original.getByRole("button", { name: "Duplicate" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Made" })).toHaveText(`Made "${name} (copy)" (inactive until you activate it).`);
  const copy = page.getByTestId("template-card").filter({ hasText: `${name} (copy)` });
  await expect(copy).toContainText("inactive");
  await expect(copy).toContainText("private");
  await copy.getByRole("button", { name: "Make public" }).click();
  await expect(copy).toContainText("public");
  await expect(copy.getByRole("button", { name: "Make private" })).toBeVisible();

  // The original has a run waiting a day: the dialog says so; keeping it changes nothing.
  const asked: string[] = [];
  page.once("dialog", (d) => { asked.push(d.message()); void d.dismiss(); });
  await original.getByRole("button", { name: "Delete…" }).click();
  await expect.poll(() => asked.length).toBe(1);
  expect(asked[0]).toContain("1 run has not ended yet");
  await expect(original).toBeVisible();

  // The copy never ran: deleting it asks, then it is gone.
  page.once("dialog", (d) => { asked.push(d.message()); void d.accept(); });
  await copy.getByRole("button", { name: "Delete…" }).click();
  await expect(copy).toHaveCount(0);
  expect(asked[1]).toContain("No run of it is under way.");
  await expect(original).toBeVisible();
});

test("a condition's branch shows in the timeline, a bad run fails naming the variable, a wait is cancelled", async ({ page, request }) => {
  const t = await createTemplate(request, {
    name: `Weigh-in ${Date.now()}`,
    triggerType: "manual",
    actions: [
      {
        id: "heavy",
        type: "condition",
        name: "Heavy?",
        config: {
          logic: "AND",
          conditions: [{ field: "trigger.weight", operator: "greater_than", value: 30 }],
          then: [{ id: "tell", type: "send_notification", config: { title: "Heavy: {{ trigger.weight }} kg", message: "m" } }],
          else: [{ id: "note", type: "send_notification", config: { title: "Light: {{ trigger.nme }}", message: "m" } }],
        },
      },
    ],
  });
  const heavy = await execute(request, t.id, { weight: 35 });
  await page.goto(`/executions/${heavy}`);
  await hydrated(page);
  await expect(page.getByTestId("execution-status")).toHaveText("completed");
  await expect(page.getByTestId("step-branch")).toHaveText("took the then branch");

  const light = await execute(request, t.id, { weight: 12 });
  await page.goto(`/executions/${light}`);
  await hydrated(page);
  await expect(page.getByTestId("execution-status")).toHaveText("failed");
  await expect(page.getByTestId("execution-step").filter({ hasText: "send_notification" }).getByRole("alert")).toContainText("trigger.nme");

  const wait = await createTemplate(request, {
    name: `Long wait ${Date.now()}`,
    triggerType: "manual",
    actions: [{ id: "w", type: "wait", config: { duration: 86_400_000 } }],
  });
  const waiting = await execute(request, wait.id, {});
  await page.goto(`/executions/${waiting}`);
  await hydrated(page);
  await expect(page.getByTestId("execution-status")).toContainText("waiting until");
  page.once("dialog", (d) => d.accept());
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByTestId("execution-status")).toHaveText("cancelled");
  await expect(page.getByTestId("step-status")).toHaveText(["cancelled"]);

  await page.goto("/executions");
  await hydrated(page);
  await page.getByLabel("Status").selectOption("cancelled");
  await expect(page.getByTestId("execution-row").first()).toContainText("cancelled");
});

test("the workflow pages have no serious accessibility violations", async ({ page }) => {
  for (const path of ["/workflows", "/workflows/new", "/executions", "/mailbox", "/email-templates"]) {
    await page.goto(path);
    await hydrated(page);
    const results = await new AxeBuilder({ page }).analyze();
    const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious, `${path}: ${JSON.stringify(serious.map((v) => v.id))}`).toEqual([]);
  }
});
