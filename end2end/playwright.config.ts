import { defineConfig } from '@playwright/test';

// The server under test is the `calbridge` binary built by the test
// command, started on its own port with a fresh data directory and the
// demo accounts. Debian's Chromium is used: Playwright cannot download a
// browser on these machines.
const port = Number(process.env.E2E_PORT ?? 3100);
const bin = process.env.CALBRIDGE_BIN ?? '../target/debug/calbridge';
const siteRoot = process.env.CALBRIDGE_SITE_ROOT ?? '../target/site';
const emulatorBin = process.env.EMULATOR_BIN ?? '../target/debug/emulator';
// The emulator plays Microsoft on another site (127.0.0.1 vs localhost), as
// login.microsoftonline.com is another site in production.
const emulatorPort = Number(process.env.E2E_EMULATOR_PORT ?? 3901);
export const emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
const dataDir = '.e2e-data';

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    baseURL: `http://localhost:${port}`,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    { name: 'with-js', use: { javaScriptEnabled: true } },
    // Every flow must also work as plain HTML forms.
    { name: 'without-js', use: { javaScriptEnabled: false } },
  ],
  webServer: [
    {
      command: `exec ${emulatorBin} --port ${emulatorPort} --seed demo`,
      url: `${emulatorUrl}/_emulator/health`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: 'pipe',
      stderr: 'pipe',
    },
    {
      command: `rm -rf ${dataDir} && exec ${bin} serve --seed-demo`,
      url: `http://127.0.0.1:${port}/healthz`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        CALBRIDGE_BIND_ADDRESS: `127.0.0.1:${port}`,
        CALBRIDGE_PUBLIC_BASE_URL: `http://localhost:${port}`,
        CALBRIDGE_DATA_DIR: dataDir,
        CALBRIDGE_SITE_ROOT: siteRoot,
        CALBRIDGE_MICROSOFT_LOGIN_URL: emulatorUrl,
        CALBRIDGE_MICROSOFT_GRAPH_URL: `${emulatorUrl}/v1.0`,
        // Rooms are read every 2 s, so a room event shows within the test.
        CALBRIDGE_SYNC__ROOM_POLL_INTERVAL_SECS: '2',
        RUST_LOG: process.env.RUST_LOG ?? 'warn',
      },
    },
  ],
});
