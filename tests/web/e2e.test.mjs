// Browser tests of the portal and the web chat: headless Debian Chromium
// (playwright-core) against the real relay, with a scripted technician.
// Run: bash tests/web/run.sh (after `cargo build -p lotse-relay`).
// Screenshots land in target/web-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startRelay, SITE, TECH_USER, TECH_PASSWORD, FAKE_CLIENT } from './lib/relay.mjs';
import { readStamp } from './lib/stamp.mjs';
import { technician, customerLink } from './lib/technician.mjs';
import { launchBrowser, newCustomerPage, shot } from './lib/browser.mjs';

const HOSTILE_NAME = '<img src=x onerror="window.__xss=1">Erika';
const HOSTILE_TEXT = '<b>bold?</b><script>window.__xss=2</script><img src=x onerror="window.__xss=3">';

let relay;
let browser;
let tech = null;

before(async () => {
  relay = await startRelay({ clickToChat: true });
  browser = await launchBrowser(relay.cert);
});

after(async () => {
  if (tech) tech.close();
  if (browser) await browser.close();
  if (relay) await relay.stop();
});

async function loggedInTechnician() {
  if (!tech) tech = await technician(relay.base, relay.cert, TECH_USER, TECH_PASSWORD);
  return tech;
}

// Chat page → name → chat prompt → recording → the queue. With
// `viaPortal`, the portal's start form gives name and problem instead.
async function startChat(page, name, problem, { viaPortal = false } = {}) {
  if (!viaPortal) {
    await page.goto(relay.base + '/web/chat.html');
    await page.getByTestId('prompt-name').waitFor();
    await page.fill('#name-input', name);
    await page.getByTestId('prompt-name').locator('button[type=submit]').click();
  } else {
    await page.goto(relay.base + '/');
    await page.locator('#start').waitFor({ state: 'visible' });
    await page.fill('#start-name', name);
    await page.fill('#start-problem', problem);
    await page.click('#start-form button[type=submit]');
    await page.waitForURL('**/web/chat.html');
  }
  const csp = await page.evaluate(async () => (await fetch(location.href)).headers.get('content-security-policy'));
  assert.match(csp || '', /default-src 'self'/, 'the chat page is served with a CSP');
  await page.getByTestId('prompt-prompt').waitFor();
  await page.getByTestId('prompt-yes').click();
  await page.getByTestId('prompt-recording').waitFor();
  assert.equal(await page.getByTestId('prompt-recording').locator('.prompt-text').textContent(), SITE.recordingPrompt);
  await page.getByTestId('recording-yes').click();
  // The site's greeting carries {position} and {wait}: it is the live line.
  await page.getByTestId('greeting').filter({ hasText: /^You are number \d+ in the queue, about \d+ minutes to wait\.$/ }).waitFor();
  assert.ok(await page.getByTestId('queue-status').isHidden(), 'no second queue line beside a live greeting');
}

// The technician takes the waiting customer called `name`.
async function acceptCustomer(t, name) {
  const q = await t.waitForType('queue', (m) => m.entries.some((e) => e.name === name));
  const entry = q.entries.find((e) => e.name === name);
  assert.equal(entry.role, 'web_customer');
  const from = t.messages.length;
  t.send({ type: 'accept', session: entry.session });
  const started = await t.waitForType('session_started', (m) => m.session === entry.session, { from });
  return started;
}

async function fontSize(page) {
  return page.$eval('#log', (e) => parseFloat(getComputedStyle(e).fontSize));
}

async function noInjectedMarkup(page) {
  const found = await page.evaluate(() => ({
    xss: window.__xss === undefined ? null : window.__xss,
    imgs: document.querySelectorAll('#log img, #prompts img, #log b, #prompts script, #log script').length,
  }));
  assert.deepEqual(found, { xss: null, imgs: 0 });
}

test('no technician logged in: the page says so, links the help page, and the customer can leave', async () => {
  assert.equal(tech, null, 'runs first, before any technician logs in');
  const { context, page } = await newCustomerPage(browser);
  try {
    await startChat(page, 'Nora Nobody', '');
    const box = page.getByTestId('no-technician');
    await box.waitFor({ state: 'visible' });
    assert.equal(await box.locator('p').textContent(), SITE.noTechnician);
    assert.equal(await box.locator('a').count(), 1, 'only our own link, the text stays text');
    assert.equal(await page.getByTestId('no-technician-link').getAttribute('href'), SITE.noTechnicianUrl);
    await shot(page, 'no-technician');
    await page.getByTestId('waiting-leave').click();
    await page.getByTestId('final').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('final-text').textContent(), 'You ended the chat. Thank you!');
    assert.ok(await page.getByTestId('survey').isHidden(), 'no survey when nobody served the session');
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('portal with Click-to-Chat on: site name, start form, session key; German texts for a German browser', async () => {
  const { context, page } = await newCustomerPage(browser, { locale: 'de-DE' });
  try {
    const res = await page.goto(relay.base + '/');
    assert.match(res.headers()['content-security-policy'] || '', /default-src 'self'/);
    await page.locator('#start').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('site-name').textContent(), SITE.name);
    assert.equal(await page.locator('#site-name b').count(), 0, 'site name shown as text');
    assert.equal(await page.locator('#start h2').textContent(), 'Mit einem Techniker chatten');
    assert.equal(await page.locator('label[for=start-name]').textContent(), 'Ihr Name');
    assert.ok(await page.locator('#key-input').isVisible(), 'session key field visible');
    assert.ok(await page.locator('#download').isHidden(), 'no download offered with Click-to-Chat on');
    // Starting without a name is refused with a message.
    await page.click('#start-form button[type=submit]');
    await page.locator('#start-error').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#start-error').textContent(), 'Bitte geben Sie Ihren Namen ein.');
    await shot(page, 'portal-de');

    // Name and problem from the start form reach the technician's queue.
    const t = await loggedInTechnician();
    await page.fill('#start-name', 'Jürgen <b>Portal</b>');
    await page.fill('#start-problem', 'Der Drucker druckt nicht.');
    await page.click('#start-form button[type=submit]');
    await page.waitForURL('**/web/chat.html');
    await page.getByTestId('prompt-yes').click();
    await page.getByTestId('agreement-yes').click();
    await page.getByTestId('recording-yes').click();
    const q = await t.waitForType('queue', (m) => m.entries.some((e) => e.name === 'Jürgen <b>Portal</b>'));
    assert.equal(q.entries.find((e) => e.name === 'Jürgen <b>Portal</b>').problem, 'Der Drucker druckt nicht.');
    await page.getByTestId('waiting').waitFor({ state: 'visible' });
    await page.getByTestId('waiting-leave').click();
    await page.getByTestId('final').waitFor({ state: 'visible' });
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('a German browser gets the chat in German, with the site\'s German texts', async () => {
  const { context, page } = await newCustomerPage(browser, { locale: 'de-DE' });
  try {
    await page.goto(relay.base + '/web/chat.html');
    await page.getByTestId('prompt-name').waitFor();
    assert.equal(await page.getByTestId('prompt-name').locator('h2').textContent(), 'Ihr Name');
    await page.fill('#name-input', 'Jürgen Grün');
    await page.getByTestId('prompt-name').locator('button[type=submit]').click();
    await page.getByTestId('prompt-prompt').waitFor();
    assert.equal(await page.getByTestId('prompt-prompt').locator('h2').textContent(), 'Chat starten?');
    assert.equal(await page.getByTestId('prompt-yes').textContent(), 'Chat starten');
    await page.getByTestId('prompt-yes').click();
    // hello.lang = "de": the relay's German default texts (only the English
    // ones are set in this site's relay.toml), the agreement first.
    await page.getByTestId('prompt-agreement').waitFor();
    assert.match(await page.getByTestId('prompt-agreement').locator('.prompt-text').textContent(), /^Bevor es losgeht: /);
    assert.equal(await page.getByTestId('agreement-yes').textContent(), 'Ich stimme zu');
    await page.getByTestId('agreement-yes').click();
    await page.getByTestId('prompt-recording').waitFor();
    assert.equal(await page.getByTestId('prompt-recording').locator('.prompt-text').textContent(),
      'Darf diese Sitzung zur Qualitätssicherung aufgezeichnet werden?');
    assert.equal(await page.getByTestId('recording-no').textContent(), 'Ablehnen');
    await page.getByTestId('recording-no').click();
    await page.getByTestId('waiting').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#waiting h2').textContent(), 'Bitte warten Sie');
    await shot(page, 'chat-de-waiting');
    await page.getByTestId('waiting-leave').click();
    await page.getByTestId('final').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('final-text').textContent(), 'Sie haben den Chat beendet. Vielen Dank!');
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('web chat: name, chat prompt, recording, queue, chat both ways, notifications, font size, notice and leave without survey', async () => {
  const t = await loggedInTechnician();
  const { context, page } = await newCustomerPage(browser);
  try {
    await startChat(page, HOSTILE_NAME, '');
    assert.match(await page.getByTestId('greeting').textContent(), /^You are number 1 in the queue, about \d+ minutes to wait\.$/);
    // The hold message repeats while the customer waits (every 2 s here).
    await page.getByTestId('hold').filter({ hasText: SITE.hold }).waitFor();
    assert.equal(await page.getByTestId('hold').textContent(), SITE.hold);
    // The page asks for notification permission with an explanation, by button.
    await page.getByTestId('notify-card').waitFor({ state: 'visible' });
    assert.match(await page.locator('#notify-text').textContent(), /notification when the technician writes/);
    await shot(page, 'chat-waiting');

    const started = await acceptCustomer(t, HOSTILE_NAME);
    const session = started.session;
    assert.equal(started.customer_name, HOSTILE_NAME);
    assert.equal(started.role, 'web_customer');
    const granted = Object.fromEntries((started.consents || []).map((c) => [c.topic, c.granted]));
    assert.equal(granted.chat_prompt, true, 'chat prompt consent recorded');
    assert.equal(granted.recording, true, 'recording consent recorded');
    await page.getByTestId('line-sys').filter({ hasText: `${t.displayName} has joined the chat.` }).waitFor();

    // Technician → customer, hostile text shows literally.
    t.send({ type: 'chat', session, text: HOSTILE_TEXT });
    const techLine = page.getByTestId('line-tech').filter({ hasText: HOSTILE_TEXT });
    await techLine.waitFor();
    assert.equal(await techLine.locator('.text').textContent(), HOSTILE_TEXT);
    assert.equal(await techLine.locator('.from').textContent(), t.displayName);
    assert.match(await techLine.locator('time').textContent(), /\d{1,2}:\d{2}/);

    // Customer → technician.
    let from = t.messages.length;
    await page.fill('[data-testid=message]', 'Hallo! Fehler E-42 <i>blinkt</i>.');
    await page.click('[data-testid=send]');
    const chat = await t.waitForType('chat', (m) => m.session === session, { from });
    assert.equal(chat.text, 'Hallo! Fehler E-42 <i>blinkt</i>.');
    assert.equal(chat.from, HOSTILE_NAME);
    await page.getByTestId('line-me').filter({ hasText: 'Fehler E-42 <i>blinkt</i>.' }).waitFor();
    await noInjectedMarkup(page);

    // Notifications: the customer clicks the button and allows them.
    await context.grantPermissions(['notifications'], { origin: relay.base });
    from = t.messages.length;
    await page.getByTestId('notify-button').click();
    await page.locator('#notify-text').filter({ hasText: 'Notifications are on.' }).waitFor();
    const consent = await t.waitForType('consent', (m) => m.topic === 'notifications', { from });
    assert.equal(consent.granted, true);
    // A technician message while the tab is hidden shows a notification.
    await page.evaluate(() => { window.__forceHidden = true; });
    t.send({ type: 'chat', session, text: 'Are you still there?' });
    await page.waitForFunction(() => window.__notes.some((n) => n.body === 'Are you still there?'));
    const notes = await page.evaluate(() => window.__notes);
    assert.deepEqual(notes, [{ title: `Message from ${t.displayName}`, body: 'Are you still there?' }]);
    // Not hidden → no notification for the next message.
    await page.evaluate(() => { window.__forceHidden = false; });
    t.send({ type: 'chat', session, text: 'Visible now.' });
    await page.getByTestId('line-tech').filter({ hasText: 'Visible now.' }).waitFor();
    assert.equal(await page.evaluate(() => window.__notes.length), 1);
    await page.evaluate(() => { window.__forceHidden = true; });
    // A nudge writes a line and, while hidden, notifies too.
    t.send({ type: 'nudge', session });
    await page.getByTestId('line-sys').filter({ hasText: `${t.displayName} is trying to get your attention.` }).waitFor();
    await page.waitForFunction(() => window.__notes.length === 2);
    assert.equal((await page.evaluate(() => window.__notes[1].title)), `${t.displayName} needs your attention`);
    await page.evaluate(() => { window.__forceHidden = false; });

    // Font size: buttons and Ctrl +/−.
    const base = await fontSize(page);
    await page.getByTestId('font-larger').click();
    assert.equal(await fontSize(page), base + 2);
    await page.getByTestId('font-larger').click();
    assert.equal(await fontSize(page), base + 4);
    await page.keyboard.press('Control+-');
    assert.equal(await fontSize(page), base + 2);
    await page.keyboard.press('Control+=');
    assert.equal(await fontSize(page), base + 4);
    await shot(page, 'chat-both-ways');

    // A notice from the technician; the customer leaves through it.
    t.send({ type: 'send_notice', session, id: SITE.notice.id });
    const notice = page.getByTestId('prompt-notice');
    await notice.waitFor();
    assert.equal(await notice.locator('.prompt-text').textContent(), SITE.notice.text);
    await noInjectedMarkup(page);
    await shot(page, 'chat-notice');
    from = t.messages.length;
    await page.getByTestId('notice-leave').click();
    const end = await t.waitForType('end', (m) => m.session === session, { from });
    assert.equal(end.reason, 'left_on_notice');
    await page.getByTestId('final').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('final-text').textContent(), 'You left the session.');
    assert.ok(await page.getByTestId('survey').isHidden(), 'no exit survey after leaving on a notice');
    await shot(page, 'chat-left-on-notice');
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('screen share from the browser reaches the technician as JPEG image frames, paced by frame_ack; Stop sharing', async () => {
  const t = await loggedInTechnician();
  const { context, page } = await newCustomerPage(browser);
  try {
    await startChat(page, 'Max Share', 'Please look at my screen.');
    const { session } = await acceptCustomer(t, 'Max Share');
    await page.getByTestId('line-sys').filter({ hasText: 'has joined the chat.' }).waitFor();

    // Declining first: the technician is told.
    let from = t.messages.length;
    t.send({ type: 'share_request', session });
    await page.getByTestId('share-no').click();
    await t.waitForType('share_decline', (m) => m.session === session, { from });

    from = t.messages.length;
    t.send({ type: 'share_request', session });
    await page.getByTestId('prompt-share').waitFor();
    await shot(page, 'share-request');
    await page.getByTestId('share-yes').click();
    const grant = await t.waitForType('share_grant', (m) => m.session === session, { from });
    assert.deepEqual(grant.scope, { kind: 'browser' });
    assert.ok(grant.width > 0 && grant.height > 0, 'grant carries the picture size');
    await page.getByTestId('share-banner').waitFor({ state: 'visible' });

    const first = await t.waitForFrame((f) => f.kind === 3, 'first image frame');
    assert.equal(first.flags & 1, 1, 'FLAG_LAST set');
    assert.equal(first.session, session, 'the relay stamped the session id');
    assert.equal(first.id, 0, 'primary stream');
    assert.equal(first.payload[0], 0xff);
    assert.equal(first.payload[1], 0xd8, 'JPEG start of image');
    assert.equal(first.payload[first.payload.length - 2], 0xff);
    assert.equal(first.payload[first.payload.length - 1], 0xd9, 'JPEG end of image');

    // Decode the JPEG for real (in the browser) and compare its size.
    const decoded = await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }));
      return { width: bmp.width, height: bmp.height };
    }, first.payload.toString('base64'));
    assert.deepEqual(decoded, { width: grant.width, height: grant.height });

    // At most one frame in flight: during a whole chat round trip without
    // a frame_ack, no second frame comes.
    from = t.messages.length;
    t.send({ type: 'chat', session, text: 'I can see it.' });
    await page.getByTestId('line-tech').filter({ hasText: 'I can see it.' }).waitFor();
    await page.fill('[data-testid=message]', 'Good.');
    await page.click('[data-testid=send]');
    await t.waitForType('chat', (m) => m.session === session && m.text === 'Good.', { from });
    assert.deepEqual(t.frames.map((f) => f.seq), [first.seq], 'no second frame before the ack');

    // Each ack lets exactly the next frame through.
    for (let n = first.seq; n < first.seq + 3; n++) {
      const ackedAt = Date.now();
      t.send({ type: 'frame_ack', session, frame: n });
      const next = await t.waitForFrame((f) => f.seq === n + 1, `frame ${n + 1}`);
      assert.ok(next.at >= ackedAt);
      assert.equal(next.kind, 3);
    }
    await shot(page, 'share-active');

    // Stop sharing button → share_stop to the technician.
    from = t.messages.length;
    await page.getByTestId('share-stop').click();
    await t.waitForType('share_stop', (m) => m.session === session, { from });
    await page.getByTestId('share-banner').waitFor({ state: 'hidden' });

    // Sharing again, ended by the technician this time.
    from = t.messages.length;
    t.send({ type: 'share_request', session });
    await page.getByTestId('share-yes').click();
    await t.waitForType('share_grant', (m) => m.session === session, { from });
    await page.getByTestId('share-banner').waitFor({ state: 'visible' });
    t.send({ type: 'share_stop', session });
    await page.getByTestId('share-banner').waitFor({ state: 'hidden' });
    await page.getByTestId('line-sys').filter({ hasText: 'Screen sharing ended.' }).nth(1).waitFor();

    // Sharing a third time, ended by the browser's own stop control: the
    // browser stops the capture and the track fires `ended`.
    from = t.messages.length;
    t.send({ type: 'share_request', session });
    await page.getByTestId('share-yes').click();
    await t.waitForType('share_grant', (m) => m.session === session, { from });
    await page.getByTestId('share-banner').waitFor({ state: 'visible' });

    // Control needs the full client: the web chat declines and says why.
    // (Asked while sharing runs: without a share the relay itself declines.)
    from = t.messages.length;
    t.send({ type: 'control_request', session });
    await t.waitForType('control_decline', (m) => m.session === session, { from });
    await page.getByTestId('line-sys').filter({ hasText: 'This needs the support app' }).waitFor();

    from = t.messages.length;
    await page.evaluate(() => {
      const track = window.__streams[window.__streams.length - 1].getVideoTracks()[0];
      track.stop();
      track.dispatchEvent(new Event('ended'));
    });
    await t.waitForType('share_stop', (m) => m.session === session, { from });
    await page.getByTestId('share-banner').waitFor({ state: 'hidden' });

    // The technician ends the session.
    t.send({ type: 'end', session, reason: 'ended_by_technician' });
    await page.getByTestId('final').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('final-text').textContent(), 'The technician ended the chat. Thank you!');
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('the name, problem, chat and survey fields stop at the protocol limits and say so', async () => {
  const { context, page } = await newCustomerPage(browser);
  try {
    await page.goto(relay.base + '/');
    await page.locator('#start').waitFor({ state: 'visible' });
    await page.locator('#start-name').pressSequentially('x'.repeat(91));
    assert.equal((await page.inputValue('#start-name')).length, 80, 'the name field stops at 80');
    assert.equal(await page.getByTestId('start-name-limit').textContent(), 'The limit of 80 characters is reached.');
    assert.equal(await page.locator('#start-problem').getAttribute('maxlength'), '4000');
    await page.goto(relay.base + '/web/chat.html');
    await page.getByTestId('prompt-name').waitFor();
    assert.equal(await page.locator('#name-input').getAttribute('maxlength'), '80');
    assert.equal(await page.locator('#message').getAttribute('maxlength'), '4000');
    assert.equal(await page.locator('#survey-comment').getAttribute('maxlength'), '2000');
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('ending a served chat ends it at the click, then shows the exit survey', async () => {
  const t = await loggedInTechnician();
  const { context, page } = await newCustomerPage(browser);
  try {
    await startChat(page, 'Susi Survey', '');
    let { session } = await acceptCustomer(t, 'Susi Survey');
    await page.getByTestId('line-sys').filter({ hasText: 'has joined the chat.' }).waitFor();
    // Handed back: the customer waits again, then is taken again.
    t.send({ type: 'hand_back', session });
    await page.getByTestId('line-sys').filter({ hasText: 'You are back in the queue.' }).waitFor();
    await page.getByTestId('waiting').waitFor({ state: 'visible' });
    assert.ok(await page.getByTestId('message').isDisabled(), 'no chat input while waiting');
    ({ session } = await acceptCustomer(t, 'Susi Survey'));
    await page.getByTestId('line-sys').filter({ hasText: 'has joined the chat.' }).nth(1).waitFor();
    const from = t.messages.length;
    await page.getByTestId('end-chat').click();
    // The technician hears the end while the survey is still open.
    const end = await t.waitForType('end', (m) => m.session === session, { from });
    assert.equal(end.reason, 'ended_by_customer');
    await page.getByTestId('survey').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#survey-question').textContent(), SITE.survey);
    await page.getByTestId('survey-star-4').click();
    await page.fill('#survey-comment', 'Quick and friendly.');
    await shot(page, 'survey');
    await page.getByTestId('survey-send').click();
    assert.equal(await page.getByTestId('final-text').textContent(), 'You ended the chat. Thank you!');
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('elevation: the customer is asked; agreeing tries the lotse:// app, offers the download for its system, then says the session moved', async () => {
  const t = await loggedInTechnician();
  const { context, page } = await newCustomerPage(browser);
  try {
    await startChat(page, 'Eli Elevate', 'Needs the full client');
    const { session } = await acceptCustomer(t, 'Eli Elevate');
    await page.getByTestId('line-sys').filter({ hasText: 'has joined the chat.' }).waitFor();
    const earlier = 'The app lets me see your screen.';
    t.send({ type: 'chat', session, text: earlier });
    await page.getByText(earlier).waitFor();

    // Declining keeps the web chat; the technician is told.
    let from = t.messages.length;
    t.send({ type: 'elevate_request', session });
    await page.getByTestId('prompt-elevate').waitFor();
    assert.match(await page.getByTestId('prompt-elevate').locator('.prompt-text').textContent(), /continuing in the support app/);
    await shot(page, 'elevate-request');
    await page.getByTestId('elevate-no').click();
    let consent = await t.waitForType('consent', (m) => m.session === session && m.topic === 'elevation', { from });
    assert.equal(consent.granted, false);
    await page.getByTestId('line-sys').filter({ hasText: 'You stay in the web chat.' }).waitFor();

    from = t.messages.length;
    t.send({ type: 'elevate_request', session });
    await page.getByTestId('elevate-yes').click();
    consent = await t.waitForType('consent', (m) => m.session === session && m.topic === 'elevation', { from });
    assert.equal(consent.granted, true);

    // The relay answers the consent with elevate_ready: a lotse:// link and
    // a download, both carrying a fresh key for this session.
    const link = page.getByTestId('elevate-download');
    await link.waitFor();
    // The visitor's system (Linux here), with the relay's key.
    assert.match(await link.getAttribute('href'), new RegExp(`^${relay.base.replace(/[.]/g, '[.]')}/download/linux[?]key=e${session}x[0-9a-f]+$`));
    assert.equal(await link.getAttribute('download'), 'lotse');
    assert.match(await page.getByTestId('prompt-elevate').getByTestId('linux-hint').textContent(), /chmod \+x lotse/);
    // No app handles lotse:// here: the page stays, with its link.
    assert.match(page.url(), /\/web\/chat\.html$/);
    await shot(page, 'elevate-ready');

    // The app opens the link: same session, the conversation so far; the
    // technician gets the session again, the page says it moved.
    const key = new URL(await link.getAttribute('href')).searchParams.get('key');
    from = t.messages.length;
    const app = await customerLink(relay.base, relay.cert, '/ws/customer?key=' + key);
    try {
      assert.equal(app.welcome.type, 'welcome');
      assert.equal(app.welcome.session, session);
      const history = await app.link.waitForType('chat_history');
      assert.deepEqual(history.lines.map((l) => [l.role, l.text]), [['technician', earlier]]);
      const again = await t.waitForType('session_started', (m) => m.session === session, { from });
      assert.equal(again.role, 'customer');
    } finally {
      app.link.close();
    }
    await page.getByTestId('final').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('final-text').textContent(), 'The session has moved to the support app. You can close this page.');
    await shot(page, 'elevated');
    t.send({ type: 'end', session, reason: 'ended_by_technician' });
    assert.deepEqual(page.problems, []);
  } finally {
    await context.close();
  }
});

test('a cut link reconnects and resumes: nothing lost, nothing doubled', async () => {
  const t = await loggedInTechnician();
  const { context, page } = await newCustomerPage(browser);
  try {
    // Route the page's WebSocket through Playwright so the test can cut it;
    // the page itself still opens the real connection (same Origin).
    const links = [];
    await page.routeWebSocket(/\/ws\/web/, (ws) => {
      const server = ws.connectToServer();
      links.push({ ws, server });
    });
    await startChat(page, 'Rita Resume', 'Flaky network');
    const { session } = await acceptCustomer(t, 'Rita Resume');
    await page.getByTestId('line-sys').filter({ hasText: 'has joined the chat.' }).waitFor();
    assert.equal(links.length, 1);

    // Cut both directions at once.
    const first = links[0];
    await first.server.close({ code: 4000, reason: 'test cut' });
    await first.ws.close({ code: 4000, reason: 'test cut' });
    await page.getByTestId('connection').filter({ hasText: 'Reconnecting' }).waitFor();
    await shot(page, 'resume-cut');

    // Both sides write while the link is down.
    let from = t.messages.length;
    await page.fill('[data-testid=message]', 'written while offline');
    await page.click('[data-testid=send]');
    t.send({ type: 'chat', session, text: 'written while you were away' });

    // The page comes back by itself and resumes the same session.
    await page.getByTestId('connection').filter({ hasText: 'Connected' }).waitFor();
    assert.ok(links.length >= 2, 'a second connection was made');
    await page.getByTestId('line-tech').filter({ hasText: 'written while you were away' }).waitFor();
    const got = await t.waitForType('chat', (m) => m.session === session && m.text === 'written while offline', { from });
    assert.equal(got.from, 'Rita Resume');

    // A round trip after the resume proves the link is in order; then
    // count: each message exactly once on each side.
    from = t.messages.length;
    await page.fill('[data-testid=message]', 'after the resume');
    await page.click('[data-testid=send]');
    await t.waitForType('chat', (m) => m.session === session && m.text === 'after the resume', { from });
    t.send({ type: 'chat', session, text: 'welcome back' });
    await page.getByTestId('line-tech').filter({ hasText: 'welcome back' }).waitFor();
    const techSaw = t.messages.filter((m) => m.type === 'chat' && m.session === session).map((m) => m.text);
    assert.deepEqual(techSaw, ['written while offline', 'after the resume']);
    const pageSaw = await page.getByTestId('line-tech').locator('.text').allTextContents();
    assert.deepEqual(pageSaw, ['written while you were away', 'welcome back']);
    await shot(page, 'resume-back');

    t.send({ type: 'end', session, reason: 'ended_by_technician' });
    await page.getByTestId('final').waitFor({ state: 'visible' });
    assert.deepEqual(page.problems.filter((p) => !/WebSocket/.test(p)), []);
  } finally {
    await context.close();
  }
});

test('portal with Click-to-Chat off hands out the stamped support app for the visitor\'s system, also for a session key', async () => {
  const off = await startRelay({ clickToChat: false });
  const b = await launchBrowser(off.cert);
  try {
    const { context, page } = await newCustomerPage(b);
    await page.goto(off.base + '/');
    await page.locator('#download').waitFor({ state: 'visible' });
    assert.ok(await page.locator('#start').isHidden(), 'no chat start form');
    const box = page.locator('#download-links');
    const primary = box.getByTestId('download-primary');
    assert.equal(await primary.getAttribute('href'), '/download/linux');
    assert.equal(await primary.textContent(), 'Download for Linux');
    assert.equal(await box.getByTestId('download-windows').getAttribute('href'), '/download/windows');
    assert.equal(await box.getByTestId('download-macos').getAttribute('href'), '/download/macos');
    assert.match(await box.getByTestId('linux-hint').textContent(), /chmod \+x lotse && \.\/lotse/);
    await shot(page, 'portal-download');

    // The download is the program with this relay's stamp appended.
    const host = new URL(off.base).host;
    const [download] = await Promise.all([page.waitForEvent('download'), primary.click()]);
    assert.equal(download.suggestedFilename(), 'lotse');
    const file = fs.readFileSync(await download.path());
    const { program, stamp } = readStamp(file);
    assert.ok(program.equals(FAKE_CLIENT), 'the program itself is unchanged');
    assert.equal(stamp.relay_url, `wss://${host}`);
    assert.equal(stamp.cert_sha256, off.cert.pinHex);
    assert.equal(stamp.site_name, SITE.name);
    assert.match(stamp.ticket, /^\.\d+\./, 'public queue: empty key');

    // A session key: bad input is refused, a good key is stamped in.
    await page.fill('#key-input', 'no spaces; allowed!');
    await page.click('#key-form button[type=submit]');
    await page.locator('#key-error').waitFor({ state: 'visible' });
    await page.fill('#key-input', 'ABC-123');
    await page.click('#key-form button[type=submit]');
    const keyed = page.locator('#key-links').getByTestId('download-primary');
    await keyed.waitFor();
    assert.equal(await keyed.getAttribute('href'), '/download/linux?key=ABC-123');
    assert.ok(await page.locator('#key-error').isHidden());
    const [download2] = await Promise.all([page.waitForEvent('download'), keyed.click()]);
    const second = readStamp(fs.readFileSync(await download2.path()));
    assert.match(second.stamp.ticket, /^ABC-123\.\d+\./);
    await shot(page, 'portal-key');

    // The web chat is refused when Click-to-Chat is off.
    const refused = await page.evaluate((url) => new Promise((resolve) => {
      const ws = new WebSocket(url);
      ws.onopen = () => { ws.close(); resolve('open'); };
      ws.onerror = () => resolve('refused');
    }), off.base.replace('https:', 'wss:') + '/ws/web');
    assert.equal(refused, 'refused');
    assert.deepEqual(page.problems.filter((p) => !/WebSocket/.test(p)), []);
    await context.close();
  } finally {
    await b.close();
    await off.stop();
  }
});
