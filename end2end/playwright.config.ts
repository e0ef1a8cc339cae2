import { defineConfig } from "@playwright/test";
import * as path from "node:path";

// The suite runs against the release binary with a fresh SQLite database in
// end2end/.tmp, started (and stopped) by Playwright itself; the cross-instance
// test also gets two instances on PostgreSQL and Redis (instances.sh).
const port = Number(process.env.E2E_PORT ?? 3107);
const root = path.resolve(__dirname, "..");
const bin = path.join(root, "target/release/purple-cross");
const tmp = path.join(__dirname, ".tmp");
// Test receivers run on 127.0.0.1, which webhooks may reach only when allowed.
// The practice is in London, so pages name its zone (GMT or BST) on times.
const env =
  `PURPLE_CROSS_DATA_DIR=${tmp} DATABASE_URL=sqlite://${tmp}/e2e.db LEPTOS_SITE_ROOT=${root}/target/site ` +
  `PURPLE_CROSS_ALLOW_PRIVATE_TARGETS=127.0.0.0/8 PURPLE_CROSS_TIMEZONE=Europe/London`;

export const ADMIN = { email: "admin@example.com", password: "correct horse battery" };
export const STAFF = { email: "staff@example.com", password: "staff password 123" };

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: [
    {
      command:
        `rm -rf ${tmp} && mkdir -p ${tmp} && ` +
        `env ${env} ${bin} users create --email ${ADMIN.email} --role admin --password '${ADMIN.password}' && ` +
        `env ${env} ${bin} users create --email ${STAFF.email} --role staff --password '${STAFF.password}' && ` +
        `env ${env} ${bin} keys create --name e2e --role admin | tail -n 1 > ${tmp}/api-key && ` +
        `exec env ${env} PURPLE_CROSS_BIND=127.0.0.1:${port} ${bin} serve`,
      url: `http://127.0.0.1:${port}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      stderr: "pipe",
    },
    // Two more instances on PostgreSQL and Redis, for instances.spec.ts.
    {
      command: `bash ${path.join(__dirname, "instances.sh")} ${port + 1} ${port + 2}`,
      url: `http://127.0.0.1:${port + 2}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      stderr: "pipe",
    },
  ],
});
