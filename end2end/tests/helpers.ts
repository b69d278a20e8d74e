import { expect, Page, test } from '@playwright/test';

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
