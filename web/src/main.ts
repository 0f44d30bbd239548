// Redub studio: upload, the job list with its queue, one job's live view.

import './style.css';
import { ApiError, api, getToken, loadToken } from './api';
import { h, replace } from './dom';
import { renderJobList } from './joblist';
import { jobView, type JobView } from './jobview';
import { uploadForm } from './upload';
import type { JobList } from './types';

const POLL_MS = 2000;

loadToken();

const app = document.getElementById('app')!;
const banner = h('div', { class: 'banner', 'data-testid': 'banner', role: 'status', 'aria-live': 'polite' });
const listEl = h('section', { class: 'card joblist', 'data-testid': 'job-list' });
const detail = h('div', { class: 'detail' });

let list: JobList = { jobs: [], queue: [], running: null };
let view: JobView | null = null;
let selected: string | null = new URLSearchParams(location.search).get('job');
let bannerTimer = 0;

function show(kind: 'error' | 'info', text: string): void {
  const p = h('p', { class: kind, 'data-testid': kind === 'error' ? 'error-message' : 'info-message' }, text, h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', onclick: () => replace(banner) }, '×'));
  replace(banner, p);
  window.clearTimeout(bannerTimer);
  if (kind === 'info') bannerTimer = window.setTimeout(() => replace(banner), 6000);
}
const showError = (t: string) => show('error', t);
const showInfo = (t: string) => show('info', t);

function select(id: string | null): void {
  selected = id;
  const q = new URLSearchParams(location.search);
  if (id) q.set('job', id);
  else q.delete('job');
  history.replaceState(null, '', `${location.pathname}${q.toString() ? `?${q}` : ''}${location.hash}`);
  if (view && view.id !== id) {
    view.destroy();
    view = null;
  }
  const job = list.jobs.find((j) => j.id === id);
  if (id && job && !view) {
    view = jobView(job, { onError: showError, onInfo: showInfo, refreshList: () => void refresh(), onDeleted: () => select(null) });
    replace(detail, view.el);
  } else if (!id || !job) {
    replace(detail, h('section', { class: 'card empty' }, h('h2', {}, 'Redub studio'), h('p', { class: 'muted' }, 'Upload a video to dub it, or pick a job from the list.')));
  }
  renderJobList(listEl, list, selected, select);
}

let refreshing = false;
let failures = 0;
async function refresh(): Promise<void> {
  if (refreshing) return;
  refreshing = true;
  try {
    list = await api.list();
    if (failures) replace(banner);
    failures = 0;
    renderJobList(listEl, list, selected, select);
    if (selected && !view && list.jobs.some((j) => j.id === selected)) select(selected);
    if (view) {
      const j = list.jobs.find((x) => x.id === view!.id);
      if (j) view.setJob(j);
      else select(null);
    }
  } catch (e) {
    failures++;
    const m = e instanceof ApiError ? e.message : String(e);
    if (e instanceof ApiError && e.status === 401)
      showError(`${m}. Open the studio with #token=YOUR_TOKEN at the end of the address (redub serve prints it).`);
    else if (failures === 1 || failures % 10 === 0) showError(`Jobs: ${m}`);
  } finally {
    refreshing = false;
  }
}

replace(
  app,
  h('header', { class: 'top' }, h('h1', {}, 'Redub studio'), h('span', { class: 'muted small' }, getToken() ? 'token set' : '')),
  banner,
  h(
    'main',
    { class: 'layout' },
    h(
      'aside',
      { class: 'side' },
      uploadForm(
        (job) => {
          showInfo(`Uploaded ${job.input_name}: job ${job.id} is queued.`);
          list = { ...list, jobs: [...list.jobs.filter((j) => j.id !== job.id), job] };
          select(job.id);
          void refresh();
        },
        showError,
      ),
      listEl,
    ),
    detail,
  ),
);

select(selected);
void refresh();
window.setInterval(() => void refresh(), POLL_MS);
