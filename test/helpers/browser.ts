import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's Chromium, headless, with the flags a sandboxed CI machine needs (no network of its own). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Type a question, press Enter, wait for the answer to end; the last answer's text. */
export async function ask(page: Page, question: string): Promise<string> {
  await page.fill('#input', question);
  await page.press('#input', 'Enter');
  await page.waitForSelector('#send:not([hidden])');
  return (await page.locator('.msg.assistant .body').last().innerText()).trim();
}
