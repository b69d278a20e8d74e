import { expect, Page } from '@playwright/test';

export const accounts = {
  admin: { email: 'admin@calbridge.test', password: 'calbridge-admin', name: 'Ada Admin' },
  staff: { email: 'sam@calbridge.test', password: 'calbridge-staff', name: 'Sam Reference' },
  patron: { email: 'pat@calbridge.test', password: 'calbridge-patron', name: 'Pat Patron' },
};

/** Waits until the wasm has hydrated the page (no-op without JavaScript). */
export async function settled(page: Page) {
  await page.waitForLoadState('networkidle');
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
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible();
}
