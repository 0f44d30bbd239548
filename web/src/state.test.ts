import { describe, expect, it } from 'vitest';
import { fromSnapshot, metrics, orderedLines, reduce, speakersOf, stagesFromJob, withJob, type JobState } from './state';
import type { Envelope, Job } from './types';

const job = (over: Partial<Job> = {}): Job => ({
  id: 'j1',
  created_ms: 0,
  status: 'queued',
  progress: 0,
  stage: null,
  input_name: 'sample.mp4',
  options: { to: 'es', review: true },
  approved: false,
  error: null,
  speaker_names: {},
  speakers_found: 0,
  lines: 0,
  pipeline_job: null,
  ...over,
});

const ev = (type: string, data: Record<string, unknown> = {}): Envelope<Record<string, unknown>> => ({
  type,
  job: 'j1',
  at_ms: 1,
  data,
});

const run = (s: JobState, ...evs: Envelope<Record<string, unknown>>[]) => evs.reduce(reduce, s);

describe('snapshot', () => {
  it('derives stage states from the job record', () => {
    const st = stagesFromJob({ status: 'running', stage: '04-transcribe' });
    expect(st['03-separate'].status).toBe('done');
    expect(st['04-transcribe'].status).toBe('running');
    expect(st['05-diarize'].status).toBe('waiting');
    const review = stagesFromJob({ status: 'review', stage: '06-translate' });
    expect(review['06-translate'].status).toBe('done');
    expect(review['07-voices'].status).toBe('waiting');
    expect(stagesFromJob({ status: 'done', stage: '11-qa' })['11-qa'].status).toBe('done');
    expect(stagesFromJob({ status: 'queued', stage: null })['01-ingest'].status).toBe('waiting');
  });
  it('keeps the snapshot lines and event count', () => {
    const s = fromSnapshot({
      job: job({ status: 'running', stage: '06-translate' }),
      lines: [{ id: 0, speaker: 'S1', start_ms: 0, end_ms: 500, text: 'Hello.' }],
      events: 40,
    });
    expect(s.lines[0].text).toBe('Hello.');
    expect(s.events).toBe(40);
  });
});

describe('reduce', () => {
  const start = fromSnapshot({ job: job(), lines: [], events: 1 });

  it('tracks stages: running with progress, done with timing, skipped', () => {
    const s = run(
      start,
      ev('job_running'),
      ev('stage_started', { stage: '02-vad' }),
      ev('stage_progress', { stage: '02-vad', done: 200, total: 938 }),
    );
    expect(s.job.status).toBe('running');
    expect(s.stages['02-vad']).toMatchObject({ status: 'running', done: 200, total: 938 });
    const t = run(s, ev('stage_done', { stage: '02-vad', took_ms: 134, cpu_ms: 130, peak_rss_kb: 55456 }), ev('stage_skipped', { stage: '03-separate' }));
    expect(t.stages['02-vad']).toMatchObject({ status: 'done', took_ms: 134, done: 938 });
    expect(t.stages['03-separate'].status).toBe('skipped');
    expect(t.events).toBe(6);
    // The input state is not mutated.
    expect(s.stages['02-vad'].status).toBe('running');
    expect(start.stages['02-vad'].status).toBe('waiting');
  });

  it('keeps a done stage done when a resume reports it skipped', () => {
    const s = run(start, ev('stage_done', { stage: '01-ingest', took_ms: 5 }), ev('stage_skipped', { stage: '01-ingest' }));
    expect(s.stages['01-ingest']).toMatchObject({ status: 'done', took_ms: 5 });
  });

  it('counts diarization chunks only from 05-diarize progress', () => {
    let s = run(start, ev('stage_progress', { stage: '03-separate', done: 1000, total: 24760 }));
    expect(metrics(s).chunks).toBe('–');
    s = run(s, ev('stage_progress', { stage: '05-diarize', done: 3, total: 7 }));
    expect(metrics(s).chunks).toBe('3/7');
  });

  it('keeps the latest segment per line id, and never loses a translation', () => {
    const seg = { id: 2, speaker: 'S2', start_ms: 8291, end_ms: 9945, text: 'Oh, hello.' };
    let s = run(start, ev('segment', seg), ev('segment', { id: 0, speaker: 'S1', start_ms: 6721, end_ms: 7228, text: 'Hello.' }));
    expect(orderedLines(s).map((l) => l.id)).toEqual([0, 2]);
    expect(s.lines[2].target_text).toBeUndefined();
    s = run(s, ev('segment', { ...seg, target_text: 'Oh, hola.', flags: ['over_time'], note: null }));
    expect(s.lines[2]).toMatchObject({ target_text: 'Oh, hola.', flags: ['over_time'] });
    s = run(s, ev('segment', { ...seg, text: 'Oh, hello!' }));
    expect(s.lines[2]).toMatchObject({ text: 'Oh, hello!', target_text: 'Oh, hola.' });
    const m = metrics(s);
    expect(m.lines).toBe(2);
    expect(m.translated).toBe(1);
    expect(m.speakers).toBe(2);
  });

  it('applies line edits in the /lines shape', () => {
    let s = run(start, ev('segment', { id: 1, speaker: 'S1', start_ms: 0, end_ms: 1, text: 'Hi', target_text: 'Hola' }));
    s = run(s, ev('line_edited', { id: 1, speaker: 'S2', source_text: 'Hey', target_text: 'Oye', flags: [] }));
    expect(s.lines[1]).toMatchObject({ speaker: 'S2', text: 'Hey', target_text: 'Oye' });
  });

  it('follows job status: review pause, done, failed with error', () => {
    let s = run(start, ev('job_running'), ev('stage_started', { stage: '06-translate' }), ev('stage_done', { stage: '06-translate' }));
    s = run(s, ev('paused', { after: '06-translate' }), ev('job_status', { status: 'review', progress: 52, error: null }));
    expect(s.job.status).toBe('review');
    expect(s.job.progress).toBe(52);
    expect(s.pausedAfter).toBe('06-translate');
    expect(metrics(s).workers).toBe(0);
    s = run(s, ev('job_status', { status: 'queued', progress: 52, error: null }));
    expect(s.pausedAfter).toBeNull();
    s = run(s, ev('job_running'));
    expect(metrics(s).workers).toBe(1);
    const done = run(s, ev('stage_skipped', { stage: '10-mux' }), ev('job_status', { status: 'done', progress: 100 }), ev('done', { output: '/x/dub.mp4', lines: 9 }));
    expect(done.stages['11-qa'].status).toBe('done');
    expect(done.stages['10-mux'].status).toBe('skipped');
    expect(done.output).toBe('/x/dub.mp4');
    const failed = run(s, ev('stage_started', { stage: '08-synthesize' }), ev('error', { message: 'tts crashed' }), ev('job_status', { status: 'failed', error: 'tts crashed' }));
    expect(failed.stages['08-synthesize'].status).toBe('failed');
    expect(failed.errors).toEqual(['tts crashed']);
  });

  it('records voices and warnings', () => {
    const s = run(start, ev('voice', { speaker: 'S1', voice: 'es-f1', backend: 'stock', pinned: false }), ev('warning', { message: 'low level' }));
    expect(s.voices.S1).toEqual({ voice: 'es-f1', backend: 'stock', pinned: false });
    expect(s.warnings).toEqual(['low level']);
  });

  it('counts distinct lines and speakers from the stream over the job counters', () => {
    const s = run(fromSnapshot({ job: job({ lines: 18, speakers_found: 0 }), lines: [], events: 0 }),
      ev('segment', { id: 0, speaker: 'S1', start_ms: 0, end_ms: 1, text: 'a' }),
      ev('segment', { id: 0, speaker: 'S1', start_ms: 0, end_ms: 1, text: 'a', target_text: 'b' }));
    expect(metrics(s)).toMatchObject({ lines: 1, speakers: 1, translated: 1 });
    expect(metrics(fromSnapshot({ job: job({ lines: 9, speakers_found: 2 }), lines: [], events: 0 }))).toMatchObject({ lines: 9, speakers: 2 });
  });

  it('ignores unknown events but counts them', () => {
    const s = run(start, ev('something_new', { x: 1 }));
    expect(s.events).toBe(2);
  });

  it('merges polled job records', () => {
    const s = run(start, ev('stage_started', { stage: '05-diarize' }));
    const merged = withJob(s, job({ status: 'running', stage: '04-transcribe', speakers_found: 2 }));
    expect(merged.job.stage).toBe('05-diarize');
    expect(merged.job.speakers_found).toBe(2);
  });
});

describe('speakersOf', () => {
  it('sorts numerically and includes named speakers', () => {
    expect(speakersOf([{ speaker: 'S10' }, { speaker: 'S2' }, { speaker: 'S1' }], { S3: 'Ann' })).toEqual(['S1', 'S2', 'S3', 'S10']);
  });
});
