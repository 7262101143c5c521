// Debian's Chromium, headless, driven by playwright-core. Never a
// downloaded browser. The relay's certificate is trusted by its public
// key hash only (--ignore-certificate-errors-spki-list), nothing else.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.LOTSE_CHROMIUM || '/usr/bin/chromium';

export async function launchBrowser(cert) {
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // Screen share: the fake UI accepts getDisplayMedia and the fake
    // device supplies a moving test picture as "the screen".
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  ];
  if (cert) args.push(`--ignore-certificate-errors-spki-list=${cert.spkiSha256Base64}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

// A fresh browser context (own storage and permissions) with a recorder
// for notifications and a switch to make the page believe it is hidden.
export async function newCustomerPage(browser, opts = {}) {
  const context = await browser.newContext({
    locale: opts.locale || 'en-US',
    viewport: { width: 900, height: 900 },
  });
  await context.addInitScript(() => {
    window.__notes = [];
    const Real = window.Notification;
    if (typeof Real === 'function') {
      class Recorded extends Real {
        constructor(title, options) {
          window.__notes.push({ title, body: (options && options.body) || '' });
          super(title, options);
        }
      }
      window.Notification = Recorded;
    }
    // Keep the streams getDisplayMedia hands out, so a test can play the
    // browser's own "Stop sharing" (which ends the track).
    window.__streams = [];
    if (navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia) {
      const real = navigator.mediaDevices.getDisplayMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getDisplayMedia = async (...args) => {
        const stream = await real(...args);
        window.__streams.push(stream);
        return stream;
      };
    }
    const realHidden = Object.getOwnPropertyDescriptor(Document.prototype, 'hidden');
    Object.defineProperty(document, 'hidden', {
      configurable: true,
      get() { return window.__forceHidden === true || realHidden.get.call(this); },
    });
  });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon/.test(m.location().url || '')) page.problems.push(`console: ${m.text()}`);
  });
  return { context, page };
}

export function artifactsDir() {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');
  const dir = process.env.LOTSE_WEB_ARTIFACTS || path.join(root, 'target', 'web-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(artifactsDir(), `${name}.png`), fullPage: true });
}
