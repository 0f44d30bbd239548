// One job: header, stages, metric pills, live transcript, review table, player, downloads.

import { ApiError, api } from './api';
import { h, replace } from './dom';
import { STAGES, duration, memory, percent, speakerColor, stageLabel, timestamp } from './format';
import { statusBadge } from './joblist';
import { dualPlayer, type DualPlayer } from './player';
import { fromSnapshot, metrics, orderedLines, reduce, withJob, type JobState } from './state';
import { reviewTable, type ReviewTable } from './review';
import type { Envelope, Job, Snapshot } from './types';

export const EVENT_TYPES = [
  'job_created', 'job_running', 'job_started', 'stage_started', 'stage_progress', 'stage_done', 'stage_skipped',
  'segment', 'voice', 'warning', 'error', 'paused', 'job_status', 'line_edited', 'done',
];

export interface JobViewHost {
  onError(msg: string): void;
  onInfo(msg: string): void;
  /** Something changed that the job list should show now. */
  refreshList(): void;
  /** The job was deleted. */
  onDeleted(id: string): void;
}

export interface JobView {
  el: HTMLElement;
  id: string;
  /** A fresher record from list polling. */
  setJob(job: Job): void;
  destroy(): void;
}

const msg = (e: unknown) => (e instanceof ApiError ? e.message : String(e));

export function jobView(initial: Job, host: JobViewHost): JobView {
  let state: JobState = fromSnapshot({ job: initial, lines: [], events: 0 });
  let lastStatus: string | null = null;
  let review: ReviewTable | null = null;
  let player: DualPlayer | null = null;
  let doneCount = 0;

  const header = h('div', { class: 'job-head' });
  const errors = h('div', { class: 'messages', 'data-testid': 'job-errors' });
  const stagesEl = h('ol', { class: 'stages', 'data-testid': 'stages' });
  const pills = h('div', { class: 'pills', 'data-testid': 'metrics' });
  const transcript = h('div', { class: 'transcript', 'data-testid': 'transcript' });
  const reviewSlot = h('div');
  const doneSlot = h('div');
  const el = h(
    'section',
    { class: 'job', 'data-testid': 'job-detail', 'data-job-id': initial.id },
    h('div', { class: 'card' }, header, errors, pills, stagesEl),
    h('section', { class: 'card' }, h('h3', {}, 'Live transcript'), transcript),
    reviewSlot,
    doneSlot,
  );

  const action = (label: string, testid: string, fn: () => Promise<unknown>, danger = false) =>
    h('button', {
      type: 'button',
      class: danger ? 'danger' : '',
      'data-testid': testid,
      onclick: async (e: Event) => {
        const b = e.currentTarget as HTMLButtonElement;
        b.disabled = true;
        try {
          await fn();
        } catch (err) {
          host.onError(`${label}: ${msg(err)}`);
        } finally {
          b.disabled = false;
          host.refreshList();
        }
      },
    }, label);

  const renderHeader = () => {
    const j = state.job;
    const opts = Object.entries(j.options ?? {})
      .filter(([k]) => k !== 'to' && k !== 'from')
      .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
      .join(' · ');
    const canCancel = j.status === 'queued' || j.status === 'running' || j.status === 'review';
    const canRetry = j.status === 'failed' || j.status === 'cancelled';
    replace(
      header,
      h(
        'div',
        { class: 'title-line' },
        h('h2', {}, j.input_name),
        statusBadge(j.status),
        h('span', { class: 'muted' }, `${j.options?.from ?? 'detect'} → ${j.options?.to}`),
      ),
      h('div', { class: 'progress', 'data-testid': 'job-progress', title: `${j.progress}%` }, h('span', { style: { width: `${j.progress}%` } })),
      h('p', { class: 'muted small' }, `${j.id} · created ${new Date(j.created_ms).toLocaleString()} · ${j.progress}%`, opts ? ` · ${opts}` : ''),
      h(
        'div',
        { class: 'actions left' },
        canCancel ? action('Cancel', 'cancel', () => api.cancel(j.id)) : null,
        canRetry ? action('Retry', 'retry', () => api.retry(j.id)) : null,
        j.status !== 'running'
          ? action('Delete', 'delete', async () => {
              if (!confirm(`Delete ${j.input_name} and all its files?`)) return;
              await api.remove(j.id);
              host.onDeleted(j.id);
            }, true)
          : null,
      ),
    );
    const errs = [...new Set(state.errors)];
    replace(
      errors,
      errs.map((e) => h('p', { class: 'error', role: 'alert' }, e)),
      state.warnings.map((w) => h('p', { class: 'warning' }, w)),
      state.pausedAfter && j.status === 'review' ? h('p', { class: 'info' }, `Paused after ${stageLabel(state.pausedAfter)}: review the lines below, then approve.`) : null,
    );
  };

  const renderStages = () => {
    replace(
      stagesEl,
      STAGES.map((name) => {
        const st = state.stages[name] ?? { status: 'waiting' };
        const p = percent(st.done, st.total);
        let detail = '';
        if (st.status === 'running') detail = p != null ? `${p}%` : 'running';
        else if (st.status === 'done') detail = st.took_ms != null ? duration(st.took_ms) : 'done';
        else detail = st.status;
        const tip = st.status === 'done' && st.took_ms != null ? `took ${duration(st.took_ms)}, cpu ${duration(st.cpu_ms)}, peak ${memory(st.peak_rss_kb)}` : '';
        return h(
          'li',
          { class: `stage stage-${st.status}`, 'data-testid': 'stage', 'data-stage': name, 'data-status': st.status, title: tip },
          h('span', { class: 'dot' }),
          h('span', { class: 'stage-name' }, stageLabel(name)),
          h('span', { class: 'stage-detail mono' }, detail),
          st.status === 'running' && p != null ? h('span', { class: 'mini-bar' }, h('span', { style: { width: `${p}%` } })) : null,
        );
      }),
    );
  };

  const renderPills = () => {
    const m = metrics(state);
    const pill = (label: string, value: string | number, testid: string) =>
      h('span', { class: 'pill', 'data-testid': testid }, h('span', { class: 'pill-value' }, String(value)), h('span', { class: 'pill-label' }, label));
    replace(
      pills,
      pill('chunks done', m.chunks, 'metric-chunks'),
      pill('speakers found', m.speakers, 'metric-speakers'),
      pill('lines processed', m.translated ? `${m.translated}/${m.lines}` : m.lines, 'metric-lines'),
      pill('workers active', m.workers, 'metric-workers'),
    );
  };

  const renderTranscript = () => {
    const lines = orderedLines(state);
    const names = state.job.speaker_names ?? {};
    replace(
      transcript,
      lines.length
        ? lines.map((l) =>
            h(
              'div',
              { class: 'tline', 'data-testid': 'transcript-line', 'data-line-id': l.id, style: { '--spk': speakerColor(l.speaker) } },
              h('span', { class: 'tmeta' }, h('span', { class: 'spk' }, names[l.speaker] ?? l.speaker), h('span', { class: 'mono small muted' }, timestamp(l.start_ms))),
              h('span', { class: 'src' }, l.text),
              h('span', { class: l.target_text !== undefined ? 'tgt' : 'tgt pending' }, l.target_text ?? '…'),
            ),
          )
        : h('p', { class: 'muted' }, state.job.status === 'queued' ? 'Waiting in the queue.' : 'The lines appear here as they are heard and translated.'),
    );
  };

  const renderDone = () => {
    player?.destroy();
    player = null;
    const j = state.job;
    if (j.status !== 'done') {
      replace(doneSlot);
      return;
    }
    doneCount++;
    // After a regenerate the dub changes under the same name: a new version skips the cache.
    player = dualPlayer(api.fileUrl(j.id, 'original'), api.fileUrl(j.id, 'dub.mp4', doneCount > 1 ? String(doneCount) : undefined));
    const to = j.options.to;
    const from = j.options.from;
    const link = (name: string, label: string) => h('a', { href: api.fileUrl(j.id, name), download: name, 'data-testid': `download-${name}` }, label);
    const subs = [link(`dub.${to}.srt`, `Subtitles ${to} (.srt)`), link(`dub.${to}.vtt`, `Subtitles ${to} (.vtt)`)];
    const bilingual = h('span');
    const addBilingual = (f: string) =>
      replace(bilingual, link(`dub.${f}-${to}.srt`, `Subtitles ${f}→${to} (.srt)`), ' · ', link(`dub.${f}-${to}.vtt`, `(.vtt)`));
    // With "detect" the source language is only known from the QA report.
    if (from) addBilingual(from);
    else
      void api.report(j.id).then(
        (r) => r?.languages?.from && addBilingual(r.languages.from),
        () => undefined,
      );
    const reportUrl = api.fileUrl(j.id, 'report.html');
    replace(
      doneSlot,
      player.el,
      h(
        'section',
        { class: 'card downloads', 'data-testid': 'downloads' },
        h('h3', {}, 'Downloads'),
        h('ul', { class: 'links' },
          h('li', {}, link('dub.mp4', 'Dubbed video (dub.mp4)')),
          subs.map((a) => h('li', {}, a)),
          h('li', {}, bilingual),
          h('li', {}, link('voices.wav', 'Voices stem (voices.wav)')),
          h('li', {}, link('background.wav', 'Background stem (background.wav)')),
          h('li', {}, link('report.json', 'QA report data (report.json)')),
          h('li', {}, h('a', { href: reportUrl, target: '_blank', rel: 'noopener', 'data-testid': 'report-link' }, 'QA report (opens in a new tab)')),
        ),
      ),
      h(
        'section',
        { class: 'card' },
        h('h3', {}, 'QA report'),
        h('iframe', { src: reportUrl, class: 'report', title: 'QA report', 'data-testid': 'report-frame', referrerpolicy: 'no-referrer' }),
      ),
    );
  };

  const onStatus = () => {
    const s = state.job.status;
    if (s === lastStatus) return;
    const prev = lastStatus;
    lastStatus = s;
    const wantsReview = s === 'review' || s === 'done' || ((s === 'failed' || s === 'cancelled') && state.job.lines > 0 && (state.job.stage ?? '') >= '06-translate');
    if (wantsReview && !review) {
      review = reviewTable(state.job, {
        onError: host.onError,
        onInfo: host.onInfo,
        onJob: (job) => {
          state = withJob(state, job);
          renderAll();
          host.refreshList();
        },
      });
      replace(reviewSlot, review.el);
    }
    review?.setJob(state.job, state.voices);
    if (review && (s === 'review' || s === 'done') && prev !== s) void review.load();
    if (s === 'done' || prev === 'done') renderDone();
    if (prev !== null) host.refreshList();
  };

  const renderAll = () => {
    renderHeader();
    renderStages();
    renderPills();
    renderTranscript();
    onStatus();
    review?.setJob(state.job, state.voices);
  };

  // Live events. Render at most once per animation frame: stage_progress can be frequent.
  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      renderAll();
    });
  };
  const es = new EventSource(api.eventsUrl(initial.id));
  es.addEventListener('snapshot', (e) => {
    const snap = JSON.parse((e as MessageEvent).data) as Snapshot;
    const old = state;
    state = fromSnapshot(snap);
    // A reconnect: keep the timings of stages the new snapshot also calls done.
    for (const [name, st] of Object.entries(old.stages))
      if (st.status === state.stages[name]?.status) state.stages[name] = { ...st };
    if (!snap.lines?.length && Object.keys(old.lines).length) state.lines = old.lines;
    state.voices = old.voices;
    schedule();
  });
  for (const t of EVENT_TYPES)
    es.addEventListener(t, (e) => {
      try {
        const env = JSON.parse((e as MessageEvent).data) as Envelope<Record<string, unknown>>;
        state = reduce(state, env);
      } catch {
        return;
      }
      schedule();
    });

  renderAll();

  return {
    el,
    id: initial.id,
    setJob(job: Job) {
      state = withJob(state, job);
      schedule();
    },
    destroy() {
      es.close();
      player?.destroy();
    },
  };
}
