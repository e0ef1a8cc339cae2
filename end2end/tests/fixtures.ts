import { test as base, expect, ConsoleMessage, Page, TestInfo } from "@playwright/test";

/**
 * The suite's `test`: every page a test opens is watched, and the test fails
 * on any uncaught exception (`pageerror`) or console error. A test that
 * expects an error on purpose (a refused request logs "Failed to load
 * resource … 422") says so with `allowConsoleErrors(/…/)`.
 */
export const test = base.extend<{ consoleGuard: void }>({
  consoleGuard: [
    async ({ context }, use, testInfo) => {
      const problems: string[] = [];
      const watch = (page: Page) => {
        page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
        page.on("console", (m: ConsoleMessage) => {
          if (m.type() === "error") problems.push(`console error: ${m.text()}`);
        });
      };
      context.pages().forEach(watch);
      context.on("page", watch);
      await use();
      const allowed = allowedPatterns(testInfo);
      const unexpected = problems.filter((p) => !allowed.some((re) => re.test(p)));
      expect(unexpected, "no uncaught errors and no console errors").toEqual([]);
    },
    { auto: true },
  ],
});

const ALLOW = "allow-console-error";

/** Lets the running test log console errors matching `re` (an expected refusal, say). */
export function allowConsoleErrors(re: RegExp) {
  test.info().annotations.push({ type: ALLOW, description: re.source });
}

function allowedPatterns(info: TestInfo): RegExp[] {
  return info.annotations.filter((a) => a.type === ALLOW).map((a) => new RegExp(a.description ?? ""));
}

export { expect };
