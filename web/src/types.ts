// Shapes of the Redub studio server API (see GET /api/openapi.json).

export type JobStatus = 'queued' | 'running' | 'review' | 'done' | 'failed' | 'cancelled';

export interface JobOptions {
  to: string;
  from?: string;
  review?: boolean;
  background?: 'separate' | 'duck' | 'drop';
  subtitles?: 'files' | 'embed';
  keep_original_audio?: boolean;
  asr?: 'whisper-cpp' | 'onnx';
  speakers?: number;
  min_speakers?: number;
  max_speakers?: number;
  translator?: 'apertium' | 'local' | 'openai';
  formality?: 'formal' | 'informal';
  voices?: 'stock' | 'elevenlabs' | 'clone-http';
}

export interface Job {
  id: string;
  created_ms: number;
  status: JobStatus;
  progress: number;
  stage: string | null;
  input_name: string;
  options: JobOptions;
  approved: boolean;
  error: string | null;
  speaker_names: Record<string, string>;
  speakers_found: number;
  lines: number;
  pipeline_job: string | null;
}

export interface JobList {
  jobs: Job[];
  queue: string[];
  running: string | null;
}

/** A `segment` event's data (after diarization; after translation with target_text, flags, note). */
export interface Segment {
  id: number;
  speaker: string;
  start_ms: number;
  end_ms: number;
  text: string;
  target_text?: string;
  flags?: string[];
  note?: string | null;
}

/** One line of GET /api/jobs/{id}/lines. */
export interface ReviewLine {
  id: number;
  speaker: string;
  speaker_name?: string;
  start_ms: number;
  end_ms: number;
  source_text: string;
  target_text: string;
  flags: string[];
  note?: string | null;
  heard?: string | null;
}

export interface LinesResponse {
  job: string;
  status?: JobStatus;
  lines: ReviewLine[];
}

export interface Envelope<T = Record<string, unknown>> {
  type: string;
  job: string;
  at_ms: number;
  data: T;
}

export interface Snapshot {
  job: Job;
  lines: Segment[];
  events: number;
}
