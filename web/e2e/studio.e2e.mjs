#!/usr/bin/env node
// Browser end-to-end test of the studio web app against a real `redub serve`.
//
//   node web/e2e/studio.e2e.mjs
//
// Env: REDUB_BIN (default $CARGO_TARGET_DIR/debug/redub), SAMPLE (default examples/sample.mp4),
//      SCREENSHOTS (default $CARGO_TARGET_DIR/test-output/studio/), CHROMIUM (default /usr/bin/chromium).
// Exits non-zero on any failure; prints every check it makes.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const target = process.env.CARGO_TARGET_DIR || join(repo, 'target');
const BIN = process.env.REDUB_BIN || join(target, 'debug', 'redub');
const SAMPLE = process.env.SAMPLE || join(repo, 'examples', 'sample.mp4');
const SHOTS = process.env.SCREENSHOTS || join(target, 'test-output', 'studio');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const DIST = join(repo, 'web', 'dist');
const DONE_TIMEOUT_MS = 4 * 60_000;
const DRIFT_LIMIT = 0.3;

const t0 = Date.now();
const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const log = (...a) => console.log(`[${secs().padStart(7)}]`, ...a);
let failures = 0;
function check(ok, what, detail = '') {
  log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` — ${detail}` : ''}`);
  if (!ok) failures++;
  return ok;
}
class Fatal extends Error {}
function must(ok, what, detail) {
  if (!check(ok, what, detail)) throw new Fatal(what);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let server = null;
let serverLog = '';
let browser = null;
const home = mkdtempSync(join(tmpdir(), 'redub-e2e-home-'));

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  const t = setTimeout(() => server.exitCode === null && server.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
  log(`server stopped (exit ${server.exitCode ?? server.signalCode})`);
}

async function main() {
  must(existsSync(BIN), `server binary exists: ${BIN}`, existsSync(BIN) ? '' : 'build it with cargo build --bin redub, or set REDUB_BIN');
  must(existsSync(SAMPLE), `sample exists: ${SAMPLE}`);
  must(existsSync(join(DIST, 'index.html')), `web app is built: ${DIST}/index.html`, existsSync(join(DIST, 'index.html')) ? '' : 'run scripts/build_web.sh');
  if (!existsSync(CHROMIUM)) throw new Fatal(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  mkdirSync(SHOTS, { recursive: true });

  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  server = spawn(BIN, ['serve', '--bind', `127.0.0.1:${port}`, '--home', home, '--web', DIST], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [server.stdout, server.stderr]) s.on('data', (d) => (serverLog = (serverLog + d).slice(-20_000)));
  server.on('exit', (code, sig) => code !== 0 && code !== null && log(`server exited early: ${code ?? sig}`));
  let up = false;
  for (let i = 0; i < 100 && !up && server.exitCode === null; i++) {
    try {
      up = (await fetch(`${origin}/api/health`)).ok;
    } catch {
      await sleep(100);
    }
  }
  must(up, `server answers ${origin}/api/health`, `home ${home}`);

  const api = async (path, init) => {
    const r = await fetch(`${origin}${path}`, init);
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const consoleErrors = [];
  const foreign = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(`${m.text()} @ ${m.location()?.url ?? ''}`));
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (u.startsWith('data:') || u.startsWith('blob:')) return;
    if (new URL(u).origin !== origin) foreign.push(u);
  });

  await page.goto(origin + '/');
  await page.getByTestId('upload-input').waitFor({ state: 'attached' });
  check((await page.title()) === 'Redub studio', 'app loads', await page.title());
  check(await page.getByTestId('review-checkbox').isChecked(), 'review is on by default');
  await page.getByTestId('target-language').selectOption('es');
  check((await page.getByTestId('source-language').inputValue()) === 'detect', 'source language defaults to detect');
  await page.getByTestId('upload-input').setInputFiles(SAMPLE);
  const shotUpload = join(SHOTS, '01-upload.png');
  await page.screenshot({ path: shotUpload, fullPage: true });
  log(`screenshot ${shotUpload}`);

  const tUpload = Date.now();
  await page.getByTestId('submit-job').click();
  await page.getByTestId('job-row').first().waitFor({ timeout: 30_000 });
  const detail = page.getByTestId('job-detail');
  await detail.waitFor({ timeout: 30_000 });
  const jobId = await detail.getAttribute('data-job-id');
  must(!!jobId, 'job created and shown', jobId ?? '');
  const created = await api(`/api/jobs/${jobId}`);
  check(created.body?.options?.to === 'es' && created.body?.options?.review === true, 'job options sent: to es, review on', JSON.stringify(created.body?.options));

  // Live view: stages and the transcript fill in while it runs.
  await page.locator('[data-testid=stage][data-status=running]').first().waitFor({ timeout: 60_000 }).then(
    () => check(true, 'a stage shows as running'),
    () => check(false, 'a stage shows as running'),
  );
  const rows = page.locator('[data-testid=review-table] [data-testid=review-row]');
  await rows.first().waitFor({ timeout: 180_000 });
  const tReview = Date.now();
  const status1 = (await detail.getByTestId('status-badge').textContent())?.trim();
  check(status1 === 'review', `status badge says review after ${((tReview - tUpload) / 1000).toFixed(1)} s`, status1);
  const nRows = await rows.count();
  check(nRows > 0, `review table has ${nRows} lines`);
  const nTranscript = await page.getByTestId('transcript-line').count();
  check(nTranscript === nRows, `live transcript shows ${nTranscript} lines`);
  const stagesDone = await page.locator('[data-testid=stage][data-status=done]').count();
  check(stagesDone === 6, `6 stages done at review (${stagesDone})`);
  const metrics = await page.getByTestId('metrics').innerText();
  log(`metric pills: ${metrics.replace(/\s+/g, ' ')}`);

  // Edit the target text of one line and save it.
  const row = rows.nth(Math.min(2, nRows - 1));
  const lineId = Number(await row.getAttribute('data-line-id'));
  const target = row.getByTestId('target-text');
  const before = await target.inputValue();
  const edited = `Texto revisado por la prueba ${Date.now() % 100000}.`;
  await target.fill(edited);
  await row.getByTestId('save-line').click();
  await row.getByTestId('save-state').filter({ hasText: /^saved$/ }).waitFor({ timeout: 15_000 });
  check(true, `line ${lineId} saved`, `“${before}” → “${edited}”`);
  const shotReview = join(SHOTS, '02-review.png');
  await page.screenshot({ path: shotReview, fullPage: true });
  log(`screenshot ${shotReview}`);

  await page.getByTestId('approve').click();
  const tApprove = Date.now();
  await page.waitForFunction(
    () => document.querySelector('[data-testid=job-detail] [data-testid=status-badge]')?.textContent?.trim() === 'done' ||
      document.querySelector('[data-testid=job-detail] [data-testid=status-badge]')?.textContent?.trim() === 'failed',
    null,
    { timeout: DONE_TIMEOUT_MS, polling: 500 },
  );
  const status2 = (await detail.getByTestId('status-badge').textContent())?.trim();
  must(status2 === 'done', `status done ${((Date.now() - tApprove) / 1000).toFixed(1)} s after approve (${((Date.now() - tUpload) / 1000).toFixed(1)} s after upload)`, status2 === 'done' ? '' : (await api(`/api/jobs/${jobId}`)).body?.error);
  const allDone = await page.locator('[data-testid=stage][data-status=done], [data-testid=stage][data-status=skipped]').count();
  check(allDone === 11, `all 11 stages done or skipped (${allDone})`);

  const lines = await api(`/api/jobs/${jobId}/lines`);
  const saved = lines.body?.lines?.find((l) => l.id === lineId);
  check(saved?.target_text === edited, `GET /api/jobs/${jobId}/lines has the edited text for line ${lineId}`, saved?.target_text);

  // The dual player.
  const orig = page.getByTestId('original-video');
  const dub = page.getByTestId('dub-video');
  await dub.waitFor({ timeout: 20_000 });
  const canPlay = await page.evaluate(() => document.createElement('video').canPlayType('video/mp4; codecs="avc1.42E01E, mp4a.40.2"'));
  if (!check(canPlay !== '', `Chromium can play H.264/AAC mp4`, JSON.stringify(canPlay))) {
    log('this Chromium cannot decode H.264/AAC: the player check is not possible here (not faked)');
  } else {
    await page.waitForFunction(
      () => [...document.querySelectorAll('video')].every((v) => v.readyState >= 2 && Number.isFinite(v.duration)),
      null,
      { timeout: 30_000 },
    );
    const durs = await page.evaluate(() => [...document.querySelectorAll('video')].map((v) => [v.dataset.testid, v.duration, v.muted]));
    log(`videos loaded: ${JSON.stringify(durs)}`);
    check(await orig.evaluate((v) => v.muted), 'the original is muted');
    await page.getByTestId('play-button').click();
    await page.waitForFunction(() => !document.querySelector('[data-testid=dub-video]').paused, null, { timeout: 10_000 });
    check(true, 'play starts the dub');
    await page.getByTestId('seek').fill('15');
    await sleep(3000);
    const samples = [];
    for (let i = 0; i < 8; i++) {
      samples.push(
        await page.evaluate(() => {
          const o = document.querySelector('[data-testid=original-video]');
          const d = document.querySelector('[data-testid=dub-video]');
          return { original: o.currentTime, dub: d.currentTime, originalPaused: o.paused, dubPaused: d.paused };
        }),
      );
      await sleep(250);
    }
    for (const s of samples)
      check(Math.abs(s.original - s.dub) <= DRIFT_LIMIT, `drift ${Math.abs(s.original - s.dub).toFixed(3)} s (original ${s.original.toFixed(3)}, dub ${s.dub.toFixed(3)})`);
    check(samples.every((s) => !s.dubPaused && !s.originalPaused), 'both videos are playing');
    check(samples[0].dub >= 15 && samples[0].dub < 20, `seeked to ~15 s and played ~3 s (dub at ${samples[0].dub.toFixed(2)} s)`);
    check(samples.at(-1).dub > samples[0].dub, 'playback advances');
    await page.getByTestId('play-button').click();
    await sleep(400);
    check(await orig.evaluate((v) => v.paused) && (await dub.evaluate((v) => v.paused)), 'pause stops both');
  }
  check(await page.getByTestId('report-frame').count() === 1, 'the QA report is embedded');
  check(await page.locator('[data-testid="download-dub.mp4"]').count() === 1, 'the dub can be downloaded');
  const shotDone = join(SHOTS, '03-done-player.png');
  await page.getByTestId('dual-player').scrollIntoViewIfNeeded();
  await page.screenshot({ path: shotDone, fullPage: true });
  log(`screenshot ${shotDone}`);

  // One-click regenerate of the edited line (ticked for us after the save).
  const regen = page.getByTestId('regenerate');
  check((await regen.textContent())?.includes('1 line'), 'the edited line is chosen for Regenerate', await regen.textContent());
  const tRegen = Date.now();
  await regen.click();
  await page.locator('[data-testid=dub-video][src*="v=2"]').waitFor({ state: 'attached', timeout: DONE_TIMEOUT_MS }).then(
    async () => check((await detail.getByTestId('status-badge').textContent())?.trim() === 'done', `regenerated line ${lineId}: done again after ${((Date.now() - tRegen) / 1000).toFixed(1)} s, the player reloaded`),
    async () => check(false, 'regenerate finishes', JSON.stringify((await api(`/api/jobs/${jobId}`)).body)),
  );

  check(consoleErrors.length === 0, 'no console errors', consoleErrors.join(' | '));
  check(foreign.length === 0, `no requests off ${origin}`, foreign.join(' '));
}

let code = 0;
try {
  await main();
} catch (e) {
  if (!(e instanceof Fatal)) check(false, 'unexpected error', e?.stack ?? String(e));
  code = 1;
} finally {
  await browser?.close().catch(() => undefined);
  await stopServer();
  rmSync(home, { recursive: true, force: true });
}
if (failures) {
  code = 1;
  if (serverLog) console.log('--- server log (tail) ---\n' + serverLog.slice(-4000));
}
log(code ? `FAILED (${failures} check${failures === 1 ? '' : 's'} failed)` : 'all checks passed');
process.exit(code);
