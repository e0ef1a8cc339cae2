import { expect, Page } from "@playwright/test";

export const ADMIN = { email: "admin@example.com", password: "correct horse battery" };
export const STAFF = { email: "staff@example.com", password: "staff password 123" };

/** Waits until the WASM has hydrated the page, so clicks are not lost. */
export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toHaveCount(1);
}

/** Waits until the page's live event stream is open: a change signalled before it opened is not replayed. */
export async function liveOpen(page: Page) {
  await expect(page.locator("body[data-live=open]")).toHaveCount(1);
}

export async function login(page: Page, who = ADMIN) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password", { exact: true }).fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toContainText(who.email);
}

import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { APIRequestContext } from "@playwright/test";

/** The admin API key the web server setup created. */
export function apiKey(): string {
  return fs.readFileSync(path.join(__dirname, "..", ".tmp", "api-key"), "utf8").trim();
}

export async function publish(request: APIRequestContext, type: string, data: object) {
  const resp = await request.post("/api/v1/events", {
    headers: { Authorization: `Bearer ${apiKey()}` },
    data: { type, data },
  });
  expect(resp.status()).toBe(202);
  return resp.json();
}

export type Receiver = { url: string; hits: { headers: http.IncomingHttpHeaders; body: string }[]; close: () => Promise<void> };

/** A webhook endpoint on 127.0.0.1 answering from `statuses` (then 200). */
export async function startReceiver(statuses: number[] = []): Promise<Receiver> {
  const hits: Receiver["hits"] = [];
  const script = [...statuses];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      hits.push({ headers: req.headers, body });
      const status = script.shift() ?? 200;
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(status < 300 ? "thanks" : "nope");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    hits,
    // The service keeps connections to a receiver alive; close() alone waits for them.
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export async function createWebhookViaApi(request: APIRequestContext, name: string, url: string, events: string[]) {
  const resp = await request.post("/api/v1/webhooks", {
    headers: { Authorization: `Bearer ${apiKey()}` },
    data: { name, url, events },
  });
  expect(resp.status()).toBe(201);
  return resp.json();
}

/** Creates a practice record through the REST API and returns it. */
export async function createRecord(request: APIRequestContext, entity: string, fields: object) {
  const resp = await request.post(`/api/v1/records/${entity}`, {
    headers: { Authorization: `Bearer ${apiKey()}` },
    data: fields,
  });
  expect(resp.status(), await resp.text()).toBe(201);
  return resp.json();
}
