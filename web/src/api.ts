// The server API client: token handling, JSON calls, error messages.

import type { Job, JobList, JobOptions, LinesResponse, ReviewLine } from './types';

const TOKEN_KEY = 'redub.token';

/** The token from a location hash like "#token=abc" (or "#a=1&token=abc"). */
export function tokenFromHash(hash: string): string | null {
  const h = hash.replace(/^#/, '');
  if (!h) return null;
  const v = new URLSearchParams(h).get('token');
  return v ? v : null;
}

/** Add `?token=` to a URL (for <video src>, <a href>, <iframe>, EventSource, which cannot send headers). */
export function withToken(url: string, token: string | null): string {
  if (!token) return url;
  const sep = url.includes('?') ? '&' : '?';
  return `${url}${sep}token=${encodeURIComponent(token)}`;
}

/** Error text for a failed response: the API's `error` field, else the status line. */
export function errorText(status: number, statusText: string, body: string): string {
  try {
    const j = JSON.parse(body) as { error?: unknown };
    if (j && typeof j.error === 'string' && j.error) return j.error;
  } catch {
    /* not JSON */
  }
  const text = body.trim();
  if (text && text.length < 300 && !text.startsWith('<')) return `${status} ${statusText}: ${text}`;
  return `${status} ${statusText || 'error'}`.trim();
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

let token: string | null = null;

/** Read the token from the hash (then remember it) or from localStorage. */
export function loadToken(): string | null {
  const fromHash = typeof location !== 'undefined' ? tokenFromHash(location.hash) : null;
  try {
    if (fromHash) localStorage.setItem(TOKEN_KEY, fromHash);
    token = fromHash ?? localStorage.getItem(TOKEN_KEY);
  } catch {
    token = fromHash;
  }
  return token;
}

export function getToken(): string | null {
  return token;
}

export function url(path: string): string {
  return withToken(path, token);
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: payload });
  } catch (e) {
    throw new ApiError(`cannot reach the server (${(e as Error).message})`, 0);
  }
  const text = await res.text();
  if (!res.ok) throw new ApiError(errorText(res.status, res.statusText, text), res.status);
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(`${method} ${path}: the server sent something that is not JSON`, res.status);
  }
}

const enc = encodeURIComponent;

export const api = {
  list: () => call<JobList>('GET', '/api/jobs'),
  job: (id: string) => call<Job>('GET', `/api/jobs/${enc(id)}`),
  create(file: File, options: JobOptions): Promise<Job> {
    const form = new FormData();
    form.append('options', JSON.stringify(options));
    form.append('file', file, file.name);
    return call<Job>('POST', '/api/jobs', form);
  },
  cancel: (id: string) => call<Job>('POST', `/api/jobs/${enc(id)}/cancel`),
  retry: (id: string) => call<Job>('POST', `/api/jobs/${enc(id)}/retry`),
  remove: (id: string) => call<void>('DELETE', `/api/jobs/${enc(id)}`),
  lines: (id: string) => call<LinesResponse>('GET', `/api/jobs/${enc(id)}/lines`),
  editLine: (id: string, line: number, patch: Partial<Pick<ReviewLine, 'source_text' | 'target_text' | 'speaker'>>) =>
    call<ReviewLine>('PATCH', `/api/jobs/${enc(id)}/lines/${line}`, patch),
  nameSpeaker: (id: string, speaker: string, name: string) =>
    call<Job>('PUT', `/api/jobs/${enc(id)}/speakers/${enc(speaker)}`, { name }),
  pinVoice: (id: string, speaker: string, voice: string) =>
    call<Job>('PUT', `/api/jobs/${enc(id)}/voices/${enc(speaker)}`, { voice }),
  report: (id: string) => call<{ languages?: { from?: string; to?: string } }>('GET', `/api/jobs/${enc(id)}/files/report.json`),
  approve: (id: string) => call<Job>('POST', `/api/jobs/${enc(id)}/approve`),
  regenerate: (id: string, lines: number[]) => call<Job>('POST', `/api/jobs/${enc(id)}/regenerate`, { lines }),
  /** A job file's URL; `version` busts the browser cache after a regenerate. */
  fileUrl: (id: string, name: string, version?: string) =>
    url(`/api/jobs/${enc(id)}/files/${enc(name)}${version ? `?v=${enc(version)}` : ''}`),
  eventsUrl: (id: string) => url(`/api/jobs/${enc(id)}/events`),
};
