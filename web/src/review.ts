// The review table: edit lines (source, target, speaker), name speakers, pin voices,
// approve (status review), regenerate chosen lines (status done).

import { ApiError, api } from './api';
import { h, replace } from './dom';
import { flagLabel, flagSeverity, speakerColor, timestamp } from './format';
import { speakersOf, type VoiceInfo } from './state';
import type { Job, ReviewLine } from './types';

export interface ReviewCallbacks {
  onError(msg: string): void;
  onInfo(msg: string): void;
  /** The job record changed (approve, regenerate, rename). */
  onJob(job: Job): void;
}

export interface ReviewTable {
  el: HTMLElement;
  /** Load (or reload) the lines from the server. */
  load(): Promise<void>;
  /** The job's status or names changed: enable or disable controls. */
  setJob(job: Job, voices: Record<string, VoiceInfo>): void;
}

const msg = (e: unknown) => (e instanceof ApiError ? e.message : String(e));

export function reviewTable(initial: Job, cb: ReviewCallbacks): ReviewTable {
  let job = initial;
  let voices: Record<string, VoiceInfo> = {};
  let lines: ReviewLine[] = [];
  const edited = new Set<number>();
  const selected = new Set<number>();

  const el = h('section', { class: 'card review', 'data-testid': 'review' });
  const speakersBox = h('div', { class: 'speakers', 'data-testid': 'speakers' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'lines', 'data-testid': 'review-table' },
    h(
      'thead',
      {},
      h('tr', {}, h('th', { class: 'sel', title: 'Choose for Regenerate' }, '✓'), h('th', {}, '#'), h('th', {}, 'Time'), h('th', {}, 'Speaker'), h('th', {}, 'Original'), h('th', {}, 'Translation'), h('th', {}, 'Flags'), h('th', {}, '')),
    ),
    tbody,
  );
  const approve = h('button', { type: 'button', class: 'primary', 'data-testid': 'approve' }, 'Approve and make the voices');
  const regenerate = h('button', { type: 'button', class: 'primary', 'data-testid': 'regenerate' }, 'Regenerate');
  const hint = h('p', { class: 'muted hint' });
  const footer = h('div', { class: 'actions' }, hint, approve, regenerate);

  const editable = () => job.status === 'review' || job.status === 'done' || job.status === 'failed' || job.status === 'cancelled';

  const refreshFooter = () => {
    approve.hidden = job.status !== 'review';
    regenerate.hidden = job.status !== 'done';
    regenerate.disabled = selected.size === 0;
    regenerate.textContent = selected.size ? `Regenerate ${selected.size} line${selected.size > 1 ? 's' : ''}` : 'Regenerate';
    hint.textContent =
      job.status === 'review'
        ? 'Check the translation, fix what reads wrong, Save each line, then approve.'
        : job.status === 'done'
          ? 'Edit and save lines, tick them (edited lines are ticked for you), then Regenerate: only those are spoken again.'
          : job.status === 'running' || job.status === 'queued'
            ? 'The job is working: editing is back when it stops.'
            : '';
    for (const c of el.querySelectorAll<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement | HTMLButtonElement>('[data-editable]'))
      c.disabled = !editable();
    for (const c of el.querySelectorAll<HTMLInputElement>('[data-testid="select-line"]')) c.hidden = job.status !== 'done';
  };

  const renderSpeakers = () => {
    const ids = speakersOf(lines, job.speaker_names);
    replace(
      speakersBox,
      ids.map((s) => {
        const name = h('input', { type: 'text', value: job.speaker_names[s] ?? '', placeholder: s, 'aria-label': `Name of ${s}`, 'data-testid': 'speaker-name', 'data-speaker': s, 'data-editable': true, class: 'narrow-text' });
        const rename = h('button', { type: 'button', 'data-testid': 'rename-speaker', 'data-editable': true }, 'Rename');
        rename.addEventListener('click', async () => {
          try {
            const j = await api.nameSpeaker(job.id, s, name.value.trim());
            cb.onJob(j);
            cb.onInfo(`${s} is now “${name.value.trim() || s}”.`);
            await load();
          } catch (e) {
            cb.onError(`Rename ${s}: ${msg(e)}`);
          }
        });
        const v = voices[s];
        const voice = h('input', { type: 'text', value: v?.pinned ? v.voice : '', placeholder: v?.voice ?? 'voice id', 'aria-label': `Voice of ${s}`, 'data-editable': true, class: 'narrow-text' });
        const pin = h('button', { type: 'button', 'data-editable': true, title: 'Use this voice for the speaker' }, 'Pin voice');
        pin.addEventListener('click', async () => {
          if (!voice.value.trim()) return cb.onError(`Type a voice for ${s} first.`);
          try {
            cb.onJob(await api.pinVoice(job.id, s, voice.value.trim()));
            cb.onInfo(`${s} will speak with ${voice.value.trim()}.`);
          } catch (e) {
            cb.onError(`Pin voice for ${s}: ${msg(e)}`);
          }
        });
        return h(
          'div',
          { class: 'speaker' },
          h('span', { class: 'swatch', style: { background: speakerColor(s) } }),
          h('strong', {}, s),
          name,
          rename,
          voice,
          pin,
          v ? h('span', { class: 'muted small' }, `${v.voice}${v.backend ? ` (${v.backend})` : ''}${v.pinned ? ' · pinned' : ''}`) : null,
        );
      }),
    );
  };

  const row = (line: ReviewLine) => {
    const ids = speakersOf(lines, job.speaker_names);
    const speaker = h(
      'select',
      { 'data-testid': 'speaker-select', 'data-editable': true, 'aria-label': `Speaker of line ${line.id}` },
      ids.map((s) => h('option', { value: s, selected: s === line.speaker }, job.speaker_names[s] ? `${job.speaker_names[s]} (${s})` : s)),
    );
    const source = h('textarea', { rows: 3, 'data-testid': 'source-text', 'data-editable': true, 'aria-label': `Original of line ${line.id}` });
    source.value = line.source_text;
    const target = h('textarea', { rows: 3, 'data-testid': 'target-text', 'data-editable': true, 'aria-label': `Translation of line ${line.id}` });
    target.value = line.target_text;
    const save = h('button', { type: 'button', 'data-testid': 'save-line', 'data-editable': true, disabled: true }, 'Save');
    const state = h('span', { class: 'save-state small', 'data-testid': 'save-state' }, edited.has(line.id) ? 'saved' : '');
    const pick = h('input', { type: 'checkbox', 'data-testid': 'select-line', checked: selected.has(line.id), 'aria-label': `Regenerate line ${line.id}` });
    pick.addEventListener('change', () => {
      if (pick.checked) selected.add(line.id);
      else selected.delete(line.id);
      refreshFooter();
    });
    const tr = h(
      'tr',
      { 'data-testid': 'review-row', 'data-line-id': line.id, style: { '--spk': speakerColor(line.speaker) } },
      h('td', { class: 'sel' }, pick),
      h('td', { class: 'mono' }, line.id),
      h('td', { class: 'mono small' }, `${timestamp(line.start_ms)}–${timestamp(line.end_ms)}`),
      h('td', {}, speaker),
      h('td', {}, source, line.heard ? h('div', { class: 'muted small', title: 'What the QA pass heard in the dub' }, `heard: ${line.heard}`) : null),
      h('td', {}, target),
      h(
        'td',
        { class: 'flags' },
        line.flags.map((f) => h('span', { class: `badge flag flag-${flagSeverity(f)}`, 'data-testid': 'flag', 'data-flag': f }, flagLabel(f))),
        line.note ? h('div', { class: 'muted small' }, line.note) : null,
      ),
      h('td', { class: 'save' }, save, state),
    );
    const dirty = () => source.value !== line.source_text || target.value !== line.target_text || speaker.value !== line.speaker;
    const onInput = () => {
      save.disabled = !dirty() || !editable();
      tr.classList.toggle('dirty', dirty());
      state.textContent = dirty() ? 'unsaved' : edited.has(line.id) ? 'saved' : '';
    };
    for (const c of [source, target]) c.addEventListener('input', onInput);
    speaker.addEventListener('change', onInput);
    save.addEventListener('click', async () => {
      const patch: Partial<Pick<ReviewLine, 'source_text' | 'target_text' | 'speaker'>> = {};
      if (source.value !== line.source_text) patch.source_text = source.value;
      if (target.value !== line.target_text) patch.target_text = target.value;
      if (speaker.value !== line.speaker) patch.speaker = speaker.value;
      if (!Object.keys(patch).length) return;
      save.disabled = true;
      state.textContent = 'saving…';
      try {
        const saved = await api.editLine(job.id, line.id, patch);
        // The server answers with the line; keep what we sent if a field is missing.
        Object.assign(line, patch, saved ?? {});
        source.value = line.source_text;
        target.value = line.target_text;
        edited.add(line.id);
        selected.add(line.id);
        pick.checked = true;
        tr.classList.remove('dirty');
        tr.classList.add('edited');
        state.textContent = 'saved';
        refreshFooter();
      } catch (e) {
        state.textContent = 'not saved';
        save.disabled = false;
        cb.onError(`Save line ${line.id}: ${msg(e)}`);
      }
    });
    return tr;
  };

  const render = () => {
    replace(tbody, lines.map(row));
    renderSpeakers();
    refreshFooter();
  };

  async function load(): Promise<void> {
    try {
      const res = await api.lines(job.id);
      lines = res.lines;
      render();
    } catch (e) {
      cb.onError(`Lines: ${msg(e)}`);
    }
  }

  approve.addEventListener('click', async () => {
    const dirty = tbody.querySelectorAll('tr.dirty').length;
    if (dirty && !confirm(`${dirty} line(s) have unsaved edits. Approve without them?`)) return;
    approve.disabled = true;
    try {
      cb.onJob(await api.approve(job.id));
      cb.onInfo('Approved: the voices are being made.');
    } catch (e) {
      cb.onError(`Approve: ${msg(e)}`);
    } finally {
      approve.disabled = false;
    }
  });
  regenerate.addEventListener('click', async () => {
    const ids = [...selected].sort((a, b) => a - b);
    if (!ids.length) return;
    regenerate.disabled = true;
    try {
      cb.onJob(await api.regenerate(job.id, ids));
      cb.onInfo(`Regenerating line${ids.length > 1 ? 's' : ''} ${ids.join(', ')}.`);
      selected.clear();
      edited.clear();
      for (const c of el.querySelectorAll<HTMLInputElement>('[data-testid="select-line"]')) c.checked = false;
    } catch (e) {
      cb.onError(`Regenerate: ${msg(e)}`);
    } finally {
      refreshFooter();
    }
  });

  replace(el, h('h3', {}, 'Review'), speakersBox, h('div', { class: 'table-wrap' }, table), footer);
  refreshFooter();

  return {
    el,
    load,
    setJob(j: Job, v: Record<string, VoiceInfo>) {
      const namesChanged = JSON.stringify(j.speaker_names) !== JSON.stringify(job.speaker_names);
      const voicesChanged = JSON.stringify(v) !== JSON.stringify(voices);
      job = j;
      voices = v;
      if (voicesChanged || namesChanged) renderSpeakers();
      refreshFooter();
    },
  };
}
