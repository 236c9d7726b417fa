// Browser end-to-end tests: a real chatd (e2e/server.py on a fresh database, started once by
// e2e/global-setup.ts) and Debian's Chromium (no browser download). Run: npx playwright test
// (tests/test_web.py runs it after a production build; the server serves web/dist).
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "e2e",
  outputDir: "e2e/test-results",
  globalSetup: "./e2e/global-setup.ts",
  workers: 1, // a 2-core box: the server, Chromium and the runner share it
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 90_000,
  globalTimeout: Number(process.env.E2E_TIMEOUT_MS ?? 0) || undefined,
  expect: { timeout: 15_000 },
  reporter: "line",
  use: {
    viewport: { width: 1280, height: 780 },
    actionTimeout: 15_000,
    navigationTimeout: 15_000,
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    },
  },
});
