import { test, expect, Browser, Page } from '@playwright/test';
import { settled, signIn } from './helpers';

// Both projects (with and without JavaScript) share one server and its
// database, so each test reads the first open time it finds instead of
// assuming one.

async function signedInPage(browser: Browser, who: 'admin' | 'staff' | 'patron' | 'riley'): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (who === 'riley') {
    await page.goto('/login');
    await settled(page);
    await page.getByLabel('Email').fill('riley@calbridge.test');
    await page.getByLabel('Password').fill('calbridge-staff');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('whoami')).toContainText('Riley Outreach');
  } else {
    await signIn(page, who);
  }
  return page;
}

/** Opens Sam's appointment times and moves day by day to one with open times. */
async function openSamsTimes(page: Page): Promise<string> {
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
  return page.url();
}

test('the admin sees Sam offering appointments', async ({ browser }) => {
  const admin = await signedInPage(browser, 'admin');
  await admin.goto('/admin/staff');
  const row = admin.locator('tr[data-email="sam@calbridge.test"]');
  await expect(row.getByTestId('appointments-state')).toHaveText('On');
  await expect(admin.locator('tr[data-email="pat@calbridge.test"]')).toHaveCount(0);
});

test('a patron books an appointment and a second account cannot take the same time', async ({ browser }) => {
  // Two signed-in browsers and a walk through the days: slow on a busy machine.
  test.setTimeout(90_000);
  const pat = await signedInPage(browser, 'patron');
  const riley = await signedInPage(browser, 'riley');
  const url = await openSamsTimes(pat);
  // Riley looks at the same day before Pat books.
  await riley.goto(url);
  await settled(riley);
  const first = pat.getByTestId('slot-choices').locator('input[type="radio"]').first();
  const startsAt = await first.getAttribute('value');
  expect(startsAt).toBeTruthy();
  await first.check();
  await pat.getByLabel('Your question').fill('Help finding sources on local history');
  await pat.getByRole('button', { name: 'Book appointment' }).click();
  await expect(pat).toHaveURL(/\/appointments\/mine\?booked=\d+/);
  const bookedId = new URL(pat.url()).searchParams.get('booked');
  await expect(pat.getByTestId('booked-confirmation')).toContainText('Sam Reference');

  await riley.locator(`input[type="radio"][value="${startsAt}"]`).check();
  await riley.getByRole('button', { name: 'Book appointment' }).click();
  await expect(riley.locator('[data-field="starts_at"]')).toContainText('just been taken');

  // The admin finds the appointment's record in the outbox list.
  const admin = await signedInPage(browser, 'admin');
  await admin.goto('/admin/outbox');
  await settled(admin);
  const record = admin.locator(`tr[data-kind="appointment.created"][data-record="${bookedId}"]`);
  await expect(record).toHaveCount(1);
  await expect(record).toContainText(/pending|done/);
  await admin.context().close();

  // Pat's list has it with Cancel; cancelling marks it cancelled.
  await settled(pat);
  const mine = pat.locator(`li[data-appointment-id="${bookedId}"]`);
  await expect(mine).toContainText('Sam Reference');
  await mine.getByRole('button', { name: 'Cancel' }).click();
  await expect(pat.locator(`li[data-appointment-id="${bookedId}"]`)).toContainText('Cancelled');
});

test('bad input is shown next to its field', async ({ browser }) => {
  const pat = await signedInPage(browser, 'patron');
  await openSamsTimes(pat);
  // Valid to the browser's own check, refused by the server (no domain dot).
  await pat.getByLabel('Your email').fill('pat@localhost');
  await pat.getByRole('button', { name: 'Book appointment' }).click();
  await expect(pat.locator('[data-field="patron_email"]')).toContainText('is not an email address');
});

test('staff see their settings and upcoming appointments', async ({ browser }) => {
  const sam = await signedInPage(browser, 'staff');
  await sam.goto('/staff/appointments');
  await settled(sam);
  await expect(sam.getByTestId('appointments-status')).toContainText('Patrons can book appointments with you');
  await expect(sam.getByLabel('Monday')).toHaveValue('09:00-17:00');
  await sam.getByLabel('Time zone (IANA, e.g. Europe/London)').fill('Mars/Base');
  await sam.getByRole('button', { name: 'Save settings' }).click();
  await expect(sam.locator('[data-field="time_zone"]')).toContainText('IANA');
});

test('an admin enters legacy Exchange settings; the password is never shown', async ({ browser }) => {
  const admin = await signedInPage(browser, 'admin');
  await admin.goto('/admin/staff');
  await admin.locator('tr[data-email="riley@calbridge.test"]').getByRole('link', { name: 'Sync settings' }).click();
  await settled(admin);
  const section = admin.getByTestId('legacy-exchange');
  await expect(section).toContainText('Legacy');
  await expect(admin.getByTestId('legacy-note')).toContainText('1 October 2022');
  await section.getByLabel('Server URL').fill('https://mail.example.org/EWS/Exchange.asmx');
  await section.getByLabel('Account').fill('riley@example.org');
  await section.getByLabel('Password').fill('Legacy-Pw-42');
  await section.getByRole('button', { name: /legacy settings/ }).first().click();
  await expect(admin.getByTestId('legacy-password')).toHaveText('password saved');
  await expect(admin.getByTestId('legacy-account')).toHaveText('riley@example.org');
  expect(await admin.content()).not.toContain('Legacy-Pw-42');

  // Riley sees them on their own sync settings, read-only.
  const riley = await signedInPage(browser, 'riley');
  await riley.goto('/staff/sync');
  await expect(riley.getByTestId('legacy-password')).toHaveText('password saved');
  await expect(riley.getByRole('button', { name: /legacy settings/ })).toHaveCount(0);
});
