// The job list, with the queue in run order.

import { h, replace } from './dom';
import { stageLabel } from './format';
import type { Job, JobList } from './types';

export function statusBadge(status: string, testid = 'status-badge'): HTMLElement {
  return h('span', { class: `badge status status-${status}`, 'data-testid': testid }, status);
}

/** Queue position (1-based) of a job, or null. */
export function queuePosition(list: JobList, id: string): number | null {
  const i = list.queue.indexOf(id);
  return i < 0 ? null : i + 1;
}

export function renderJobList(el: HTMLElement, list: JobList, selected: string | null, onSelect: (id: string) => void): void {
  const byId = new Map(list.jobs.map((j) => [j.id, j]));
  const jobs = [...list.jobs].sort((a, b) => b.created_ms - a.created_ms);
  const name = (id: string) => byId.get(id)?.input_name ?? id;
  const running = list.running ? byId.get(list.running) : undefined;

  const queueLine = h(
    'p',
    { class: 'queue', 'data-testid': 'queue' },
    h('strong', {}, 'Now: '),
    running ? `${running.input_name} (${running.stage ? stageLabel(running.stage) : 'starting'})` : 'idle',
    h('br'),
    h('strong', {}, 'Queue: '),
    list.queue.length ? list.queue.map((id, i) => `${i + 1}. ${name(id)}`).join(' · ') : 'empty',
  );

  const row = (j: Job) => {
    const pos = queuePosition(list, j.id);
    const sub =
      j.status === 'running'
        ? `${j.stage ? stageLabel(j.stage) : 'starting'} · ${j.progress}%`
        : pos
          ? `#${pos} in queue`
          : j.status === 'review'
            ? 'waiting for your review'
            : j.status === 'failed'
              ? (j.error ?? 'failed')
              : j.status === 'done'
                ? 'done'
                : j.status;
    return h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: `job-row${j.id === selected ? ' selected' : ''}`,
          'data-testid': 'job-row',
          'data-job-id': j.id,
          'aria-current': j.id === selected ? 'true' : null,
          onclick: () => onSelect(j.id),
        },
        h('span', { class: 'job-title' }, j.input_name, h('span', { class: 'muted' }, ` → ${j.options?.to ?? '?'}`)),
        statusBadge(j.status, 'job-row-status'),
        h('span', { class: 'job-sub muted' }, sub),
        h('span', { class: 'bar' }, h('span', { style: { width: `${Math.max(0, Math.min(100, j.progress))}%` } })),
      ),
    );
  };

  replace(
    el,
    h('h2', {}, 'Jobs'),
    queueLine,
    jobs.length ? h('ul', { class: 'jobs' }, jobs.map(row)) : h('p', { class: 'muted' }, 'No jobs yet. Drop a file above.'),
  );
}
