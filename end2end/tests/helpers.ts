import { Browser, BrowserContext, expect, Page, request as apiRequest, test } from '@playwright/test';

/** The Microsoft emulator that playwright.config.ts starts beside Calbridge. */
export const emulatorUrl = `http://127.0.0.1:${Number(process.env.E2E_EMULATOR_PORT ?? 3901)}`;

/** Whether the running project has JavaScript on ('with-js'). */
export function jsEnabled(): boolean {
  return test.info().project.use.javaScriptEnabled !== false;
}

export const accounts = {
  admin: { email: 'admin@calbridge.test', password: 'calbridge-admin', name: 'Ada Admin' },
  staff: { email: 'sam@calbridge.test', password: 'calbridge-staff', name: 'Sam Reference' },
  patron: { email: 'pat@calbridge.test', password: 'calbridge-patron', name: 'Pat Patron' },
};

/**
 * Waits until the wasm has hydrated the page (only the load without
 * JavaScript). The app marks <body data-hydrated> once hydrated; waiting
 * for "network idle" instead never ends on signed-in pages, whose live
 * event stream stays open.
 */
export async function settled(page: Page) {
  await page.waitForLoadState('load');
  if (jsEnabled()) {
    await page.locator('body[data-hydrated]').waitFor({ state: 'attached' });
  }
}

export async function signIn(page: Page, who: keyof typeof accounts, next?: string) {
  const a = accounts[who];
  await page.goto(next ? `/login?next=${encodeURIComponent(next)}` : '/login');
  await settled(page);
  await page.getByLabel('Email').fill(a.email);
  await page.getByLabel('Password').fill(a.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('whoami')).toContainText(a.name);
}

export async function signOut(page: Page) {
  await settled(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('navigation').getByRole('link', { name: 'Sign in' })).toBeVisible();
}

/** Registers a multi-tenant app with Calbridge's Redirect URL in the portal. */
export async function registerApp(
  portal: Page,
  redirectUrl: string,
  permissions: string[] = ['offline_access', 'Calendars-ReadWrite'],
) {
  await portal.goto(`${emulatorUrl}/portal`);
  await portal.locator('#i0116').fill('it.admin@contoso-library.onmicrosoft.com');
  await portal.locator('#i0118').fill('Admin-Pass-2024!');
  await portal.locator('#idSIButton9').click();
  await portal.locator('#new-registration').click();
  await portal.locator('#app-name').fill(`Calbridge e2e ${test.info().project.name} ${Date.now()}`);
  await portal.locator('#audience-AzureADMultipleOrgs').check();
  await portal.locator('#redirect-uri').fill(redirectUrl);
  await portal.locator('#register').click();
  const clientId = (await portal.locator('#application-client-id').innerText()).trim();
  await portal.locator('#nav-certificates-secrets').click();
  await portal.locator('#secret-description').fill('Calbridge');
  await portal.locator('#add-secret').click();
  const secretValue = (await portal.locator('#secret-value').innerText()).trim();
  await portal.locator('#nav-api-permissions').click();
  for (const id of permissions) {
    await portal.locator(`#perm-delegated-${id}`).check();
  }
  await portal.locator('#add-permissions').click();
  return { clientId, secretValue };
}

/**
 * The admin registers a new app in the portal, saves it and activates
 * sync; the app's client ID and secret value.
 */
export async function registerAndActivate(page: Page, browser: Browser, permissions?: string[]) {
  await signIn(page, 'admin', '/admin/integrations');
  await settled(page);
  const redirectUrl = await page.getByTestId('redirect-url').inputValue();
  // The IT admin works in their own browser: their Microsoft session must
  // not be the one the staff member meets at sign-in.
  const itAdmin = await browser.newContext();
  const app = await registerApp(await itAdmin.newPage(), redirectUrl, permissions);
  await itAdmin.close();
  await page.getByLabel('Application ID').fill(app.clientId);
  if ((await page.getByTestId('secret-saved').count()) > 0) {
    await page.locator('summary', { hasText: 'Replace' }).click();
  }
  await page.getByLabel('Client Secret: Value').fill(app.secretValue);
  await page.getByLabel('Supported Account Type').selectOption('any_organization');
  await page.getByLabel('Active', { exact: true }).check();
  await page.getByRole('button', { name: 'Save Settings' }).click();
  await expect(page.getByTestId('activation-status')).toContainText('Active');
  await expect(page.getByTestId('activation-status')).not.toContainText('Inactive');
  await signOut(page);
  return app;
}

/**
 * Everything Calbridge sends a browser context (status, headers and body
 * of each response; not the emulator's pages), kept to search for secrets
 * once the test is done. Event streams never end, so their bodies are not
 * read (the server tests' secret scan reads them).
 */
export function recordResponses(context: BrowserContext) {
  const reads: Promise<string>[] = [];
  context.on('response', (response) => {
    if (response.url().startsWith(emulatorUrl)) return;
    const headers = response.headers();
    const head = `${response.status()} ${response.url()}\n${JSON.stringify(headers)}\n`;
    const streamed = (headers['content-type'] ?? '').includes('text/event-stream');
    const body = streamed
      ? Promise.resolve(head)
      : response.body().then((b) => head + b.toString('latin1'), () => head);
    // A body the browser dropped (the page moved on) may never resolve.
    const gaveUp = new Promise<string>((done) => setTimeout(() => done(head), 5_000));
    reads.push(Promise.race([body, gaveUp]));
  });
  return { all: async () => Promise.all(reads) };
}

/** Every access and refresh token the emulator has issued. */
export async function issuedTokens(): Promise<string[]> {
  const api = await apiRequest.newContext();
  const r = await api.get(`${emulatorUrl}/_emulator/tokens`);
  expect(r.ok()).toBeTruthy();
  const body = await r.json();
  await api.dispose();
  return [...body.access_tokens, ...body.refresh_tokens];
}

/** Fails naming the response and form where any secret shows. */
export function expectNoSecrets(responses: string[], secrets: string[]) {
  const hits: string[] = [];
  for (const secret of secrets) {
    const forms: Record<string, string> = {
      raw: secret,
      'URL-encoded': encodeURIComponent(secret),
      'JSON-escaped': JSON.stringify(secret).slice(1, -1),
      base64: Buffer.from(secret).toString('base64').replace(/=+$/, ''),
      base64url: Buffer.from(secret).toString('base64url'),
    };
    for (const response of responses) {
      for (const [name, form] of Object.entries(forms)) {
        if (response.includes(form)) hits.push(`${name} in ${response.split('\n')[0]}`);
      }
    }
  }
  expect(hits).toEqual([]);
}
