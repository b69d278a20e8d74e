import { test, expect, Browser, Page } from '@playwright/test';
import { jsEnabled, settled, signIn, signOut } from './helpers';

// Spaces: a patron books a slot of the seeded "Group Study Room 1" (open
// 08:00–20:00 London time, 30-minute slots); staff who opened the same
// slot before cannot take it; the admin sees the booking's outbox record.
//
// Both projects run against the same Calbridge, so each books its own day.
// Several windows and many page loads of a debug build: more time than the
// default 30 s.
test.describe.configure({ timeout: 120_000 });

const ROOM = 'Group Study Room 1';

/** A date inside the 14-day window, different for each project. */
function bookingDate(): string {
  const offset = jsEnabled() ? 5 : 6;
  const d = new Date(Date.now() + offset * 24 * 3600 * 1000);
  return d.toISOString().slice(0, 10);
}

async function roomHref(page: Page): Promise<string> {
  await page.goto('/spaces');
  await settled(page);
  const href = await page.getByRole('link', { name: ROOM }).getAttribute('href');
  expect(href).toMatch(/^\/spaces\/\d+$/);
  return href!;
}

/** Opens the room's day and picks the free 10:00 slot for the form. */
async function pickTenOClock(page: Page, href: string, date: string) {
  await page.goto(`${href}?date=${date}&view=day`);
  await settled(page);
  const row = page.getByRole('row', { name: '10:00–10:30' });
  await row.getByRole('link', { name: 'Free' }).click();
  await expect(page).toHaveURL(/start=/);
  await settled(page);
  await expect(page.getByLabel('Start')).toHaveValue(/T\d\d:00:00Z$/);
}

async function newWindow(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  return context.newPage();
}

test('a patron books a slot, nobody else can take it, and the admin sees the outbox record', async ({ page, browser }) => {
  const date = bookingDate();

  // Staff open the same slot first, to book it for a walk-in visitor.
  const staff = await newWindow(browser);
  await signIn(staff, 'staff');
  const href = await roomHref(staff);
  await pickTenOClock(staff, href, date);

  // The patron books 10:00–11:00 (two slots).
  await signIn(page, 'patron');
  await page.getByRole('navigation').getByRole('link', { name: 'Spaces' }).click();
  await pickTenOClock(page, href, date);
  await expect(page.getByLabel('Email')).toHaveValue('pat@calbridge.test');
  await page.getByLabel('Number of slots').selectOption('2');
  await page.getByRole('button', { name: 'Book' }).click();
  const confirmation = page.getByTestId('booking-confirmation');
  await expect(confirmation).toContainText(ROOM);
  await expect(confirmation).toContainText('10:00–11:00 (Europe/London)');
  await expect(page).toHaveURL(/\/bookings\?booked=\d+/);
  const bookingId = new URL(page.url()).searchParams.get('booked')!;
  await expect(page.locator(`tr[data-booking-id="${bookingId}"]`)).toContainText(ROOM);

  // Staff submit the slot they had open: taken, said next to Start.
  await staff.getByLabel('Name').fill('Walk-in Visitor');
  await staff.getByLabel('Email').fill('walkin@example.org');
  await staff.getByRole('button', { name: 'Book' }).click();
  const taken = staff.locator('[data-field="starts_at"]');
  await expect(taken).toContainText('taken');
  await staff.goto(`${href}?date=${date}&view=day`);
  await settled(staff);
  await expect(staff.getByRole('row', { name: '10:00–10:30' })).toContainText('Unavailable');
  await expect(staff.getByRole('row', { name: '10:30–11:00' })).toContainText('Unavailable');
  // Staff see who holds it; patrons and visitors never do.
  await expect(staff.locator(`tr[data-booking-id="${bookingId}"]`)).toContainText('Pat Patron');
  await staff.context().close();

  // The admin finds the booking's record in the outbox list.
  await signOut(page);
  await signIn(page, 'admin');
  await page.getByRole('navigation').getByRole('link', { name: 'Outbox' }).click();
  await expect(page).toHaveURL(/\/admin\/outbox$/);
  const record = page.locator(`tr[data-kind="space_booking.created"][data-record="${bookingId}"]`);
  await expect(record).toContainText(`Space booking #${bookingId}`);
  // Pending, or done already when the integration is active and sync ran.
  await expect(record).toContainText(/pending|done/);
});

test('a visitor sees the week grid and is asked to sign in to book', async ({ page }) => {
  const href = await roomHref(page);
  await page.goto(`${href}?date=${bookingDate()}&view=week`);
  await settled(page);
  await expect(page.getByTestId('slot-grid').locator('thead th')).toHaveCount(8);
  await expect(page.getByLabel('Start')).toHaveCount(0);
  await page.getByTestId('sign-in-to-book').click();
  await expect(page).toHaveURL(/\/login\?next=/);
});

test('a patron cancels their own booking from My bookings', async ({ page }) => {
  const date = bookingDate();
  await signIn(page, 'patron');
  const href = await roomHref(page);
  await page.goto(`${href}?date=${date}&view=day`);
  await settled(page);
  await page.getByRole('row', { name: '15:00–15:30' }).getByRole('link', { name: 'Free' }).click();
  await settled(page);
  await page.getByRole('button', { name: 'Book' }).click();
  await expect(page.getByTestId('booking-confirmation')).toContainText('15:00–15:30');
  const bookingId = new URL(page.url()).searchParams.get('booked')!;
  const row = page.locator(`tr[data-booking-id="${bookingId}"]`);
  await settled(page);
  await row.getByRole('button', { name: 'Cancel' }).click();
  await expect(row).toHaveCount(0);
  await page.goto(`${href}?date=${date}&view=day`);
  await settled(page);
  await expect(page.getByRole('row', { name: '15:00–15:30' })).toContainText('Free');
});
