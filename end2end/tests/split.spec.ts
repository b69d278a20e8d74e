import { test, expect, Page } from '@playwright/test';
import { settled, signIn } from './helpers';

// The site is built with `cargo leptos build --split`: each page's code is
// its own wasm file, fetched when that page is shown. A patron's first
// visit must not download the admin pages' code.
function wasmFetched(page: Page): string[] {
  const names: string[] = [];
  page.on('request', (r) => {
    const name = new URL(r.url()).pathname.split('/').pop() ?? '';
    if (name.endsWith('.wasm')) names.push(name);
  });
  return names;
}

const pageCode = (names: string[], route: string) =>
  names.filter((n) => n.startsWith(`split___${route}_route_view_`));

test('each page fetches its own code, and only its own', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name === 'without-js', 'without JavaScript no wasm is fetched');
  const fetched = wasmFetched(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await settled(page);
  expect(fetched).toContain('calbridge.wasm');
  expect(pageCode(fetched, 'home')).toHaveLength(1);
  expect(pageCode(fetched, 'integrations')).toHaveLength(0);
  expect(pageCode(fetched, 'space')).toHaveLength(0);

  await signIn(page, 'admin');
  // A link followed inside the app: the router fetches the page's code.
  await page.getByRole('navigation').getByRole('link', { name: 'Admin › Integrations' }).click();
  await expect(page.getByRole('heading', { name: 'Admin › Integrations' })).toBeVisible();
  expect(pageCode(fetched, 'integrations')).toHaveLength(1);
  // The page works once its code has arrived.
  await expect(page.getByLabel('Application ID')).toBeEditable();
  expect(errors).toEqual([]);
});
