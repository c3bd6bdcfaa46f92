/**
 * Real Chromium for the browser tests: Debian's /usr/bin/chromium (or
 * CHROMIUM_PATH) driven by playwright-core, never a downloaded browser.
 * Without a Chromium the tests skip with a message, except in CI (CI=true),
 * where .ci/browser.sh installs it and a missing one is a failure.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { describe } from 'vitest';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** `describe` when Chromium is there; otherwise a skip that says why (a failure in CI). */
export function describeInChromium(name: string, body: () => void): void {
  if (hasChromium) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM_PATH} is missing: run .ci/browser.sh (apt-get install -y chromium)`);
  console.warn(`skipping "${name}": no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  describe.skip(name, body);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, headless: true });
}

/** Where screenshots go (gitignored). */
export async function outputPath(file: string): Promise<string> {
  const dir = join(process.cwd(), 'test-output', 'browser');
  await mkdir(dir, { recursive: true });
  return join(dir, file);
}
