// The upload form: drag and drop or pick a file, languages, options.

import { ApiError, api } from './api';
import { h } from './dom';
import { LANGUAGES, buildOptions, type FormValues } from './options';
import type { Job } from './types';

export function uploadForm(onCreated: (job: Job) => void, onError: (msg: string) => void): HTMLElement {
  let file: File | null = null;

  const input = h('input', { type: 'file', accept: 'video/*,audio/*', id: 'upload-file', class: 'visually-hidden', 'data-testid': 'upload-input' });
  const fileLabel = h('span', { class: 'file-name' }, 'No file chosen');
  const drop = h(
    'label',
    { class: 'dropzone', for: 'upload-file', 'data-testid': 'dropzone' },
    h('strong', {}, 'Drop a video or audio file here'),
    h('span', { class: 'muted' }, 'or click to choose one'),
    fileLabel,
  );

  const setFile = (f: File | null) => {
    file = f;
    fileLabel.textContent = f ? `${f.name} (${(f.size / 1024 / 1024).toFixed(1)} MB)` : 'No file chosen';
    drop.classList.toggle('has-file', !!f);
  };
  input.addEventListener('change', () => setFile(input.files?.[0] ?? null));
  for (const t of ['dragenter', 'dragover'])
    drop.addEventListener(t, (e) => {
      e.preventDefault();
      drop.classList.add('dragging');
    });
  for (const t of ['dragleave', 'dragend']) drop.addEventListener(t, () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('dragging');
    const f = (e as DragEvent).dataTransfer?.files?.[0];
    if (f) setFile(f);
  });

  const langOptions = (first: [string, string]) => [
    h('option', { value: first[0] }, first[1]),
    ...LANGUAGES.map(([code, name]) => h('option', { value: code }, `${name} (${code})`)),
  ];
  const to = h('select', { name: 'to', required: true, 'data-testid': 'target-language' }, langOptions(['', 'Choose…']));
  const from = h('select', { name: 'from', 'data-testid': 'source-language' }, langOptions(['detect', 'Detect']));
  const review = h('input', { type: 'checkbox', name: 'review', checked: true, 'data-testid': 'review-checkbox' });

  const choice = (name: string, values: string[]) =>
    h('select', { name, 'data-testid': `opt-${name}` }, h('option', { value: '' }, 'default'), ...values.map((v) => h('option', { value: v }, v)));
  const background = choice('background', ['separate', 'duck', 'drop']);
  const subtitles = choice('subtitles', ['files', 'embed']);
  const asr = choice('asr', ['whisper-cpp', 'onnx']);
  const translator = choice('translator', ['apertium', 'local', 'openai']);
  const formality = choice('formality', ['formal', 'informal']);
  const voices = choice('voices', ['stock', 'elevenlabs', 'clone-http']);
  const keep = h('input', { type: 'checkbox', name: 'keep_original_audio' });
  const countInput = (name: string) => h('input', { type: 'number', min: '1', max: '32', step: '1', name, class: 'narrow', placeholder: 'auto' });
  const speakers = countInput('speakers');
  const minSpk = countInput('min_speakers');
  const maxSpk = countInput('max_speakers');

  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'submit-job' }, 'Dub it');
  const field = (label: string, control: HTMLElement) => h('label', { class: 'field' }, h('span', {}, label), control);

  const form = h(
    'form',
    { class: 'card upload', 'data-testid': 'upload-form', novalidate: true },
    h('h2', {}, 'New dub'),
    input,
    drop,
    h('div', { class: 'row' }, field('Dub into', to), field('From', from)),
    h('label', { class: 'check' }, review, ' Review the lines before the voices are made'),
    h(
      'details',
      { class: 'more' },
      h('summary', {}, 'More options'),
      h(
        'div',
        { class: 'grid' },
        field('Background', background),
        field('Subtitles', subtitles),
        field('Speech recognition', asr),
        field('Translator', translator),
        field('Formality', formality),
        field('Voices', voices),
        field('Speakers', speakers),
        field('Min speakers', minSpk),
        field('Max speakers', maxSpk),
      ),
      h('label', { class: 'check' }, keep, ' Keep the original audio track too'),
    ),
    h('div', { class: 'actions' }, submit),
  );

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!file) return onError('Choose a video or audio file first.');
    const values: FormValues = {
      to: to.value,
      from: from.value,
      review: review.checked,
      background: background.value,
      subtitles: subtitles.value,
      keep_original_audio: keep.checked,
      asr: asr.value,
      speakers: speakers.value,
      min_speakers: minSpk.value,
      max_speakers: maxSpk.value,
      translator: translator.value,
      formality: formality.value,
      voices: voices.value,
    };
    const built = buildOptions(values);
    if (!built.ok) return onError(built.error);
    submit.disabled = true;
    submit.textContent = 'Uploading…';
    try {
      const job = await api.create(file, built.options);
      setFile(null);
      input.value = '';
      onCreated(job);
    } catch (err) {
      onError(err instanceof ApiError ? `Upload failed: ${err.message}` : String(err));
    } finally {
      submit.disabled = false;
      submit.textContent = 'Dub it';
    }
  });
  return form;
}
