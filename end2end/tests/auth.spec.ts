import { test, expect } from '@playwright/test';
import { accounts, settled, signIn, signOut } from './helpers';

const adminLink = (page) => page.getByRole('navigation').getByRole('link', { name: 'Admin › Integrations' });

test('an admin signs in, finds Admin › Integrations, and signs out', async ({ page }) => {
  await signIn(page, 'admin');
  await expect(adminLink(page)).toBeVisible();
  await adminLink(page).click();
  await expect(page).toHaveURL(/\/admin\/integrations$/);
  await expect(page.getByRole('heading', { name: 'OAuth2 Outlook/Exchange Calendar Sync' })).toBeVisible();
  await signOut(page);
  await expect(adminLink(page)).toHaveCount(0);
});

test('a patron is refused the admin page', async ({ page }) => {
  await signIn(page, 'patron');
  await expect(adminLink(page)).toHaveCount(0);
  const response = await page.goto('/admin/integrations');
  expect(response?.status()).toBe(403);
  await expect(page.getByTestId('forbidden')).toContainText('No access');
  await expect(page.getByRole('heading', { name: 'OAuth2 Outlook/Exchange Calendar Sync' })).toHaveCount(0);
});

test('a visitor is sent to sign in, and back to the page afterwards', async ({ page }) => {
  await page.goto('/admin/integrations');
  await expect(page).toHaveURL(/\/login\?next=%2Fadmin%2Fintegrations$/);
  await settled(page);
  await page.getByLabel('Email').fill(accounts.admin.email);
  await page.getByLabel('Password').fill(accounts.admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/admin\/integrations$/);
  await expect(page.getByRole('heading', { name: 'Admin › Integrations' })).toBeVisible();
});

test('a wrong password gets one clear message', async ({ page }) => {
  await page.goto('/login');
  await settled(page);
  await page.getByLabel('Email').fill(accounts.staff.email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Email or password is incorrect.');
  await expect(page.getByRole('navigation').getByRole('link', { name: 'Sign in' })).toBeVisible();
});

test('unknown pages answer 404 with a way back', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});
