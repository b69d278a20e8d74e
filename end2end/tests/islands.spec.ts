import { test, expect, Page } from '@playwright/test';
import { settled, signIn } from './helpers';

// Pages are rendered on the server (Leptos islands). Only the parts that
// change in place are hydrated, and each of those islands is its own wasm
// file (`cargo leptos build --split`), fetched by the pages that show it.
// A patron's first visit downloads the small main file and nothing else.
function wasmFetched(page: Page): string[] {
  const names: string[] = [];
  page.on('request', (r) => {
    const name = new URL(r.url()).pathname.split('/').pop() ?? '';
    if (name.endsWith('.wasm')) names.push(name);
  });
  return names;
}

const islandCode = (names: string[], island: string) =>
  names.filter((n) => n.startsWith(`split_${island}_loader_`));

test('a page fetches the code of its own islands, and only theirs', async ({ page }, testInfo) => {
  test.skip(testInfo.project.name === 'without-js', 'without JavaScript no wasm is fetched');
  const fetched = wasmFetched(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await settled(page);
  expect(fetched).toEqual(['calbridge.wasm']);

  await signIn(page, 'admin');
  await page.getByRole('navigation').getByRole('link', { name: 'Admin › Integrations' }).click();
  await settled(page);
  await expect(page.getByRole('heading', { name: 'Admin › Integrations' })).toBeVisible();
  expect(islandCode(fetched, 'outlook_sync')).toHaveLength(1);
  expect(islandCode(fetched, 'live_space_grid')).toHaveLength(0);
  expect(islandCode(fetched, 'dashboard')).toHaveLength(0);
  expect(islandCode(fetched, 'live_sync_details')).toHaveLength(0);
  // The island works once its code has arrived: the Application ID is
  // checked as it is typed, before anything is sent.
  await page.getByLabel('Application ID').fill('not-a-guid');
  await expect(page.getByTestId('app-id-problem')).toBeVisible();
  expect(errors).toEqual([]);
});
