import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test, expect } from "./fixtures";

// The binary as the README runs it: from another working directory and with
// no LEPTOS_SITE_ROOT, it must find its site beside itself and the pages must
// ask for files that exist, so they hydrate.
test("the release binary, started from anywhere, serves the JS and WASM its pages ask for", async ({ page }) => {
  const bin = path.resolve(__dirname, "../../target/release/purple-cross");
  const data = fs.mkdtempSync(path.join(os.tmpdir(), "pc-site-"));
  const port = 3000 + Math.floor(Math.random() * 1000) + 200;
  const env = { ...process.env, DATABASE_URL: `sqlite://${data}/site.db`, PURPLE_CROSS_DATA_DIR: data };
  delete env.LEPTOS_SITE_ROOT;
  const server = spawn(bin, ["serve"], {
    cwd: os.tmpdir(),
    env: { ...env, PURPLE_CROSS_BIND: `127.0.0.1:${port}` },
    stdio: "ignore",
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    await expect.poll(async () => (await fetch(`${base}/readyz`).catch(() => null))?.status, { timeout: 20_000 }).toBe(200);

    const html = await (await fetch(`${base}/login`)).text();
    const assets = [...new Set(html.match(/\/pkg\/[A-Za-z0-9_.-]+\.(?:js|wasm|css)/g) ?? [])];
    expect(assets.some((a) => a.endsWith(".js"))).toBe(true);
    expect(assets.some((a) => a.endsWith(".wasm"))).toBe(true);
    for (const asset of assets) {
      const r = await fetch(`${base}${asset}`);
      expect(r.status, asset).toBe(200);
      if (asset.endsWith(".wasm")) expect(r.headers.get("content-type")).toBe("application/wasm");
    }

    // And in the browser, under the page's Content-Security-Policy, it hydrates.
    await page.goto(`${base}/login`);
    await expect(page.locator("body[data-hydrated=true]")).toBeAttached({ timeout: 20_000 });
    await page.getByLabel("Show password").check();
    await expect(page.getByLabel("Password", { exact: true })).toHaveAttribute("type", "text");
  } finally {
    server.kill("SIGTERM");
    fs.rmSync(data, { recursive: true, force: true });
  }
});
