import * as fs from "node:fs";
import * as path from "node:path";
import { test, expect } from "./fixtures";
import { ADMIN, hydrated, liveOpen, startReceiver } from "./helpers";

// instances.sh runs A (takes events and delivers them) and B (serves pages,
// no worker) on one PostgreSQL and one Redis, next to the suite's own server.
const port = Number(process.env.E2E_PORT ?? 3107);
const A = `http://127.0.0.1:${port + 1}`;
const B = `http://127.0.0.1:${port + 2}`;

function key(): string {
  return fs.readFileSync(path.join(__dirname, "..", ".tmp-instances", "api-key"), "utf8").trim();
}

test("an event accepted by one instance shows live on a page served by another", async ({ page, request }) => {
  await expect.poll(async () => (await request.get(`${A}/readyz`)).status()).toBe(200);
  const auth = { Authorization: `Bearer ${key()}` };
  const rx = await startReceiver();
  const made = await request.post(`${A}/api/v1/webhooks`, {
    headers: auth,
    data: { name: "Across instances", url: rx.url, events: ["invoice.paid"] },
  });
  expect(made.status()).toBe(201);

  await page.goto(`${B}/login`);
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toContainText(ADMIN.email);
  await page.goto(`${B}/webhooks`);
  await hydrated(page);
  await liveOpen(page);
  await expect(page.getByText("Across instances")).toBeVisible();
  const deliveries = page.getByTestId("live-deliveries");
  await expect(deliveries).not.toHaveText("…");
  const before = Number(await deliveries.textContent());

  // Accepted and delivered by A; B has no worker, so only A's signal through Redis tells B's page.
  const accepted = await request.post(`${A}/api/v1/events`, {
    headers: auth,
    data: { type: "invoice.paid", data: { id: "inv_across", amount: 12 } },
  });
  expect(accepted.status()).toBe(202);
  expect((await accepted.json()).deliveries).toBe(1);
  await expect.poll(() => rx.hits.length).toBe(1);
  await expect(deliveries).toHaveText(String(before + 1), { timeout: 15_000 });
  await rx.close();
});
