import { test, expect, Page, request as apiRequest } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { emulatorUrl, settled, signIn, signOut } from './helpers';

// Appointments ↔ Outlook in the browser: the admin registers an app in the
// (emulated) Azure portal and activates sync; the staff member connects
// through the emulator's sign-in and consent pages; an appointment is
// written to their mailbox; the staff member disconnects, and the event
// stays in Outlook.
//
// Until the admin's staff page and the patron booking page are on this
// branch, the staff member's appointment profile and the appointment are
// written straight into the server's SQLite file (as the appointments code
// would, row and outbox job in one transaction) — no test-only route.

const SAM_MS = { upn: 'sam.reader@contoso-library.onmicrosoft.com', password: 'Staff-Pass-2024!' };
const DB = '.e2e-data/calbridge.db';

function sql(statement: string) {
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', DB, statement]);
}

function enableAppointments(email: string) {
  sql(`INSERT INTO staff_profiles (user_id, appointments_enabled, appointment_minutes, location_kind,
         location, time_zone, booking_window_days, free_busy_enabled, created_at, updated_at)
       SELECT id, 1, 30, 'in_person', 'Reference desk', 'Europe/Amsterdam', 14, 0,
         '2026-11-28T00:00:00+00:00', '2026-11-28T00:00:00+00:00' FROM users WHERE email = '${email}'
       ON CONFLICT (user_id) DO NOTHING`);
}

/** Books an appointment with the staff member, and its sync job, at once. */
function book(email: string, patron: string, start: Date) {
  const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, '+00:00');
  const end = new Date(start.getTime() + 30 * 60_000);
  const now = iso(new Date(Math.floor(Date.now() / 1000) * 1000));
  sql(`BEGIN;
       INSERT INTO appointments (staff_id, starts_at, ends_at, patron_name, patron_email, question,
         location_kind, location, status, created_by, created_at, updated_at)
       SELECT id, '${iso(start)}', '${iso(end)}', '${patron}', 'patron@example.org',
         'Where are the maps?', 'in_person', 'Reference desk', 'active', NULL, '${now}', '${now}'
       FROM users WHERE email = '${email}';
       INSERT INTO outbox (kind, aggregate_id, payload, status, attempts, run_after, last_error,
         claimed_by, claimed_until, created_at)
       VALUES ('appointment.created', last_insert_rowid(), '{}', 'pending', 0, '${now}', NULL, NULL,
         NULL, '${now}');
       COMMIT;`);
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

/** Registers a multi-tenant app with Calbridge's Redirect URL in the portal. */
async function registerApp(portal: Page, redirectUrl: string) {
  await portal.goto(`${emulatorUrl}/portal`);
  await portal.locator('#i0116').fill('it.admin@contoso-library.onmicrosoft.com');
  await portal.locator('#i0118').fill('Admin-Pass-2024!');
  await portal.locator('#idSIButton9').click();
  await portal.locator('#new-registration').click();
  await portal.locator('#app-name').fill(`Calbridge outlook e2e ${test.info().project.name} ${Date.now()}`);
  await portal.locator('#audience-AzureADMultipleOrgs').check();
  await portal.locator('#redirect-uri').fill(redirectUrl);
  await portal.locator('#register').click();
  const clientId = (await portal.locator('#application-client-id').innerText()).trim();
  await portal.locator('#nav-certificates-secrets').click();
  await portal.locator('#secret-description').fill('Calbridge');
  await portal.locator('#add-secret').click();
  const secretValue = (await portal.locator('#secret-value').innerText()).trim();
  await portal.locator('#nav-api-permissions').click();
  for (const id of ['offline_access', 'Calendars-ReadWrite']) {
    await portal.locator(`#perm-delegated-${id}`).check();
  }
  await portal.locator('#add-permissions').click();
  return { clientId, secretValue };
}

test('staff connects Outlook through Microsoft sign-in, an appointment lands there, staff disconnects', async ({ page, browser }) => {
  test.setTimeout(120_000);
  // The admin: register, save, activate.
  await signIn(page, 'admin', '/admin/integrations');
  await settled(page);
  const redirectUrl = await page.getByTestId('redirect-url').inputValue();
  // The IT admin works in their own browser: their Microsoft session must
  // not be the one the staff member meets at sign-in.
  const itAdmin = await browser.newContext();
  const app = await registerApp(await itAdmin.newPage(), redirectUrl);
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

  // The staff member connects.
  enableAppointments('sam@calbridge.test');
  await signIn(page, 'staff', '/staff/sync');
  await expect(page).toHaveURL(/\/staff\/sync$/);
  await settled(page);
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

  // An appointment is booked: the worker writes it to the mailbox.
  const patron = `Patron ${test.info().project.name} ${Date.now()}`;
  book('sam@calbridge.test', patron, new Date(Date.now() + 48 * 3600_000));
  await expect.poll(() => mailboxSubjects(SAM_MS.upn), { timeout: 20_000 }).toContain(`Appointment: ${patron}`);

  // Disconnect: the account is gone from the page, the event stays.
  await page.getByRole('button', { name: 'Disconnect Outlook calendar' }).click();
  await expect(page.getByTestId('outlook-connection')).toContainText('Not connected');
  await expect(page.getByTestId('outlook-account')).toHaveCount(0);
  expect(await mailboxSubjects(SAM_MS.upn)).toContain(`Appointment: ${patron}`);
});
