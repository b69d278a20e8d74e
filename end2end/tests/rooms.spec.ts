import { test, expect, Page, request as apiRequest } from '@playwright/test';
import { emulatorUrl, jsEnabled, registerAndActivate, settled, signIn } from './helpers';

// Spaces ↔ Exchange rooms in the browser: the admin registers an app with
// room permissions and activates sync, authorizes as the rooms' delegate
// (Fran) through the emulator's sign-in and consent, and connects the
// seeded "Media Lab" to the Seminar Room. A patron's booking appears on
// the room; an event placed on the room "in Outlook" makes the slot
// unavailable in a page left open (with JavaScript: without a reload); the
// dashboard's status changes live when the admin revokes.
//
// Both projects run against the same Calbridge and emulator, so each uses
// its own hours of the next weekday.
test.describe.configure({ timeout: 150_000 });

const SPACE = 'Media Lab';
const ROOM = 'room.seminar@contoso-library.onmicrosoft.com';
const FRAN = { upn: 'fran.facilities@contoso-library.onmicrosoft.com', password: 'Rooms-Pass-2024!' };
const ROOM_PERMISSIONS = [
  'offline_access',
  'User-Read',
  'Calendars-ReadWrite',
  'Calendars-ReadWrite-Shared',
  'Place-Read-All',
];

/**
 * The next weekday after today (the Media Lab opens Monday to Friday), as
 * YYYY-MM-DD in UTC, which is London's time in winter.
 */
function nextWeekday(): string {
  for (let days = 1; ; days++) {
    const d = new Date(Date.now() + days * 24 * 3600 * 1000);
    if (d.getUTCDay() >= 1 && d.getUTCDay() <= 5) return d.toISOString().slice(0, 10);
  }
}

/** The hour this project books (b) and blocks in Outlook (o). */
function hours() {
  return jsEnabled() ? { book: 10, outlook: 14 } : { book: 11, outlook: 15 };
}

const hh = (h: number) => String(h).padStart(2, '0');

async function spaceHref(page: Page): Promise<string> {
  await page.goto('/spaces');
  await settled(page);
  const href = await page.getByRole('link', { name: SPACE }).getAttribute('href');
  expect(href).toMatch(/^\/spaces\/\d+$/);
  return href!;
}

async function roomEvents(): Promise<{ subject: string }[]> {
  const api = await apiRequest.newContext();
  const r = await api.get(`${emulatorUrl}/_emulator/mailboxes/${encodeURIComponent(ROOM)}/events`);
  expect(r.ok()).toBeTruthy();
  const body = await r.json();
  await api.dispose();
  return Array.isArray(body) ? body : body.value ?? body.events ?? [];
}

/** Someone books the room in Outlook (the emulator's control API). */
async function bookInOutlook(date: string, hour: number) {
  const api = await apiRequest.newContext();
  const r = await api.post(`${emulatorUrl}/_emulator/mailboxes/${encodeURIComponent(ROOM)}/events`, {
    data: {
      subject: `Outlook meeting ${test.info().project.name}`,
      start: { dateTime: `${date}T${hh(hour)}:00:00`, timeZone: 'UTC' },
      end: { dateTime: `${date}T${hh(hour + 1)}:00:00`, timeZone: 'UTC' },
      showAs: 'busy',
    },
  });
  expect(r.ok(), await r.text()).toBeTruthy();
  await api.dispose();
}

/** Walks the emulator's pages as Fran until back at Calbridge. */
async function authorizeAsFran(page: Page) {
  for (let i = 0; i < 80; i++) {
    if (page.url().includes('authorized=1')) return;
    if (await page.locator('#i0116').isVisible()) {
      await page.locator('#i0116').fill(FRAN.upn);
      await page.locator('#i0118').fill(FRAN.password);
      await page.locator('#idSIButton9').click();
    } else if (await page.locator('#pick-account').isVisible()) {
      await page.locator('#pick-account').click();
    } else if (await page.locator('#idBtn_Accept').isVisible()) {
      await page.locator('#idBtn_Accept').click();
    } else {
      await page.waitForTimeout(250);
    }
  }
  throw new Error(`did not come back from Microsoft; at ${page.url()}`);
}

test('an admin connects a space to a room; bookings and Outlook events meet, live', async ({ page, browser }) => {
  await registerAndActivate(page, browser, ROOM_PERMISSIONS);
  await signIn(page, 'admin');
  const href = await spaceHref(page);
  const spaceId = href.split('/').pop()!;
  const settings = `/admin/spaces/${spaceId}/sync`;

  // Start from "not connected" (the other project may have left it on).
  await page.goto(settings);
  await settled(page);
  if ((await page.locator('#revoke-room').count()) > 0) {
    await page.locator('#revoke-room').click();
    await expect(page.getByTestId('room-revoked')).toBeVisible();
    await settled(page);
  }

  // Authorize as the rooms' delegate, then connect the Seminar Room.
  await page.locator('#authorize-room').click();
  await expect(page).toHaveURL(new RegExp(`^${emulatorUrl}/`));
  await authorizeAsFran(page);
  await expect(page).toHaveURL(new RegExp(`${settings}\\?authorized=1$`));
  await settled(page);
  await page.locator('#room-address').fill(ROOM);
  await page.locator('#pick-room').click();
  await expect(page.getByTestId('room-connected')).toContainText(ROOM, { timeout: 20_000 });
  const badge = page.getByTestId('live-sync-status').getByTestId('sync-badge');
  await expect(badge).toHaveAttribute('data-state', /active|syncing/);

  // A patron books the space: the booking appears on the room.
  const date = nextWeekday();
  const { book, outlook } = hours();
  const patron = await (await browser.newContext()).newPage();
  await signIn(patron, 'patron');
  await patron.goto(`${href}?date=${date}&view=day`);
  await settled(patron);
  await patron.getByRole('row', { name: `${hh(book)}:00–${hh(book + 1)}:00` }).getByRole('link', { name: 'Free' }).click();
  await expect(patron).toHaveURL(/start=/);
  await settled(patron);
  await patron.getByRole('button', { name: 'Book' }).click();
  await expect(patron.getByTestId('booking-confirmation')).toContainText(SPACE);
  await expect
    .poll(async () => (await roomEvents()).map((e) => e.subject), { timeout: 30_000 })
    .toContain(`${SPACE}: booked by Pat Patron`);

  // A visitor keeps the space's day open; someone books the room in Outlook.
  const visitor = await (await browser.newContext()).newPage();
  await visitor.goto(`${href}?date=${date}&view=day`);
  await settled(visitor);
  const slot = `[data-starts-at^="${date}T${hh(outlook)}:00"]`;
  await expect(visitor.locator(`a.slot.free${slot}`)).toBeVisible();
  await bookInOutlook(date, outlook);
  if (jsEnabled()) {
    // Pushed to the open page: no reload.
    await expect(visitor.locator(`span.slot.unavailable${slot}`)).toBeVisible({ timeout: 20_000 });
  } else {
    await expect
      .poll(
        async () => {
          await visitor.reload();
          return visitor.locator(`span.slot.unavailable${slot}`).count();
        },
        { timeout: 20_000 },
      )
      .toBe(1);
  }

  // The dashboard shows the space; revoking changes it there live.
  const dashboard = await (await browser.newContext()).newPage();
  await signIn(dashboard, 'admin', '/admin/sync');
  await expect(dashboard).toHaveURL(/\/admin\/sync$/);
  await settled(dashboard);
  const row = dashboard.locator(`tr[data-subject="space:${spaceId}"]`);
  await expect(row).toHaveAttribute('data-state', /active|syncing/);
  await page.goto(settings);
  await settled(page);
  await page.locator('#revoke-room').click();
  await expect(page.getByTestId('room-revoked')).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'Authorization revoked.' })).toBeVisible();
  if (!jsEnabled()) await dashboard.reload();
  await expect(row).toHaveAttribute('data-state', 'revoked', { timeout: 15_000 });
  // The room keeps what was written.
  expect((await roomEvents()).map((e) => e.subject)).toContain(`${SPACE}: booked by Pat Patron`);
});
