import { test, expect, Browser, Page, request as apiRequest } from '@playwright/test';
import {
  emulatorUrl,
  expectNoSecrets,
  issuedTokens,
  recordResponses,
  registerAndActivate,
  settled,
  signIn,
  signOut,
} from './helpers';

// Appointments ↔ Outlook in the browser: the admin registers an app in the
// (emulated) Azure portal and activates sync; the staff member (the demo's
// Sam, who offers appointments) connects through the emulator's sign-in and
// consent pages; a patron books with Sam and the event appears in Sam's
// mailbox; the patron cancels and it is gone; Sam books again, disconnects,
// and that event stays in Outlook.

const TENANT_ID = '6f1d3c2a-8b4e-4f7a-9c1d-2e3f4a5b6c7d';
const IT_ADMIN_MS = { upn: 'it.admin@contoso-library.onmicrosoft.com', password: 'Admin-Pass-2024!' };
const SAM_MS = { upn: 'sam.reader@contoso-library.onmicrosoft.com', password: 'Staff-Pass-2024!' };
/** A patron books the first open time with Sam under `name`; the booking id. */
async function bookWithSam(page: Page, name: string): Promise<string> {
  await page.goto('/appointments');
  await settled(page);
  await page.getByRole('link', { name: 'Sam Reference' }).click();
  await expect(page.getByTestId('open-times')).toBeVisible();
  for (let i = 0; i < 8; i++) {
    await settled(page);
    if (await page.getByTestId('slot-choices').count()) break;
    await page.getByTestId('day-next').click();
    await expect(page).toHaveURL(/date=/);
  }
  await page.getByTestId('slot-choices').locator('input[type="radio"]').first().check();
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Your question').fill('Where are the old maps of the harbour?');
  await page.getByRole('button', { name: 'Book appointment' }).click();
  await expect(page).toHaveURL(/\/appointments\/mine\?booked=\d+/);
  return new URL(page.url()).searchParams.get('booked')!;
}

async function mailboxSubjects(mailbox: string): Promise<string[]> {
  const api = await apiRequest.newContext();
  const r = await api.get(`${emulatorUrl}/_emulator/mailboxes/${encodeURIComponent(mailbox)}/events`);
  expect(r.ok()).toBeTruthy();
  const body = await r.json();
  await api.dispose();
  const events = Array.isArray(body) ? body : body.value ?? body.events ?? [];
  return events.map((e: { subject: string }) => e.subject);
}

/**
 * On /staff/sync: disconnects first when an earlier test (or the other
 * project's run) left the staff member connected, so the test starts from
 * "Connect with Microsoft".
 */
async function startDisconnected(page: Page) {
  await settled(page);
  const disconnect = page.getByRole('button', { name: 'Disconnect Outlook calendar' });
  if ((await disconnect.count()) > 0) {
    await disconnect.click();
    await expect(page.getByTestId('outlook-connection')).toContainText('Not connected');
    await settled(page);
  }
}

test('staff connects Outlook through Microsoft sign-in, an appointment lands there, staff disconnects', async ({ page, browser }) => {
  test.setTimeout(120_000);
  const responses = recordResponses(page.context());
  const app = await registerAndActivate(page, browser);

  // The staff member connects.
  await signIn(page, 'staff', '/staff/sync');
  await expect(page).toHaveURL(/\/staff\/sync$/);
  await startDisconnected(page);
  await page.getByRole('button', { name: /Connect( again)? with Microsoft/ }).click();
  await expect(page).toHaveURL(new RegExp(`^${emulatorUrl}/`));
  if (await page.locator('#i0116').isVisible()) {
    await page.locator('#i0116').fill(SAM_MS.upn);
    await page.locator('#i0118').fill(SAM_MS.password);
    await page.locator('#idSIButton9').click();
  }
  if (await page.locator('#pick-account').isVisible()) {
    await page.locator('#pick-account').click();
  }
  // A new app asks for consent to its permissions.
  await page.locator('#idBtn_Accept').click();
  await expect(page).toHaveURL(/\/staff\/sync\?connected=1$/);
  await settled(page);
  await expect(page.getByTestId('outlook-account')).toContainText(SAM_MS.upn);

  await signOut(page);

  // A patron books with Sam: the worker writes the event to Sam's mailbox.
  const run = `${test.info().project.name} ${Date.now()}`;
  await signIn(page, 'patron');
  const booked = await bookWithSam(page, `Pat ${run}`);
  await expect.poll(() => mailboxSubjects(SAM_MS.upn), { timeout: 20_000 }).toContain(`Appointment: Pat ${run}`);

  // The patron cancels: the event is deleted from the mailbox.
  await settled(page);
  await page.locator(`li[data-appointment-id="${booked}"]`).getByRole('button', { name: 'Cancel' }).click();
  await expect(page.locator(`li[data-appointment-id="${booked}"]`)).toContainText('Cancelled');
  await expect.poll(() => mailboxSubjects(SAM_MS.upn), { timeout: 20_000 }).not.toContain(`Appointment: Pat ${run}`);

  // Another booking, then Sam disconnects: the account is gone from the
  // page, the event stays in Outlook.
  await bookWithSam(page, `Kept ${run}`);
  await expect.poll(() => mailboxSubjects(SAM_MS.upn), { timeout: 20_000 }).toContain(`Appointment: Kept ${run}`);
  await signOut(page);
  await signIn(page, 'staff', '/staff/sync');
  await settled(page);
  await page.getByRole('button', { name: 'Disconnect Outlook calendar' }).click();
  await expect(page.getByTestId('outlook-connection')).toContainText('Not connected');
  // What the server function answered, shown after the form's redirect.
  await expect(page.getByRole('status').filter({ hasText: 'no longer writes to your Outlook calendar' })).toBeVisible();
  await expect(page.getByTestId('outlook-account')).toHaveCount(0);
  expect(await mailboxSubjects(SAM_MS.upn)).toContain(`Appointment: Kept ${run}`);

  // Nothing Calbridge sent this browser, from setup to disconnect, holds
  // the client secret or any token Microsoft issued.
  const seen = await responses.all();
  expect(seen.length).toBeGreaterThan(20);
  expect(seen.some((r) => r.includes('/staff/sync') && r.includes(SAM_MS.upn))).toBeTruthy();
  const tokens = await issuedTokens();
  expect(tokens.length).toBeGreaterThanOrEqual(2);
  expectNoSecrets(seen, [app.secretValue, ...tokens]);
});

/** Turns the demo tenant's "users may not consent" setting on or off. */
async function requireAdminConsent(on: boolean) {
  const api = await apiRequest.newContext();
  const r = await api.post(`${emulatorUrl}/_emulator/tenants/${TENANT_ID}/settings`, {
    data: { require_admin_consent: on },
  });
  expect(r.ok()).toBeTruthy();
  await api.dispose();
}

/**
 * Walks Microsoft's pages as `account` until `done` holds: signs in when
 * asked, picks the account when offered, and accepts consent when
 * `accept` is set. Which pages appear depends on the browser's Microsoft
 * session and on earlier consent, so each is handled if it shows.
 */
async function walkMicrosoft(
  page: Page,
  account: { upn: string; password: string },
  done: () => Promise<boolean>,
  accept = true,
) {
  for (let i = 0; i < 80; i++) {
    if (await done()) return;
    if (await page.locator('#i0116').isVisible()) {
      await page.locator('#i0116').fill(account.upn);
      await page.locator('#i0118').fill(account.password);
      await page.locator('#idSIButton9').click();
    } else if (await page.locator('#pick-account').isVisible()) {
      await page.locator('#pick-account').click();
    } else if (accept && (await page.locator('#idBtn_Accept').isVisible())) {
      await page.locator('#idBtn_Accept').click();
    } else {
      await page.waitForTimeout(250);
    }
  }
  throw new Error(`Microsoft's pages did not lead where expected; at ${page.url()}`);
}

test('consent required: the tenant admin approves through the link, then staff connects', async ({ page, browser }) => {
  test.setTimeout(120_000);
  await registerAndActivate(page, browser);
  await requireAdminConsent(true);
  try {
    // Sam tries to connect: Microsoft needs an admin's approval first.
    await signIn(page, 'staff', '/staff/sync');
    await startDisconnected(page);
    await page.getByRole('button', { name: /Connect( again)? with Microsoft/ }).click();
    await walkMicrosoft(page, SAM_MS, () => page.locator('#need-admin').isVisible(), false);
    await page.locator('#back-to-app').click();
    await expect(page.getByText('requires an administrator to approve')).toBeVisible();
    const link = await page.locator('#admin-consent-link').getAttribute('href');
    expect(link).toContain('/v2.0/adminconsent?client_id=');

    // The tenant admin follows the link in their own browser and accepts.
    const itAdmin = await browser.newContext();
    const adminPage = await itAdmin.newPage();
    await adminPage.goto(link!);
    await walkMicrosoft(adminPage, IT_ADMIN_MS, () => adminPage.locator('#org-consent').isVisible(), false);
    await adminPage.locator('#idBtn_Accept').click();
    await expect(adminPage.getByText('Consent granted')).toBeVisible();
    await itAdmin.close();

    // Now Sam connects without being asked again.
    await page.goto('/staff/sync');
    await settled(page);
    await page.getByRole('button', { name: /Connect( again)? with Microsoft/ }).click();
    await walkMicrosoft(page, SAM_MS, async () => /\/staff\/sync\?connected=1$/.test(page.url()));
    await settled(page);
    await expect(page.getByTestId('outlook-account')).toContainText(SAM_MS.upn);
    // Leave Sam as the other tests expect to find him: not connected.
    await startDisconnected(page);
  } finally {
    await requireAdminConsent(false);
  }
});
