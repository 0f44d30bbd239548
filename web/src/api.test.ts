import { describe, expect, it } from 'vitest';
import { errorText, tokenFromHash, withToken } from './api';

describe('token', () => {
  it('reads the token from the hash', () => {
    expect(tokenFromHash('#token=abc')).toBe('abc');
    expect(tokenFromHash('#x=1&token=a%20b')).toBe('a b');
    expect(tokenFromHash('')).toBeNull();
    expect(tokenFromHash('#token=')).toBeNull();
  });
  it('adds ?token= to URLs', () => {
    expect(withToken('/api/jobs/j1/events', 't 1')).toBe('/api/jobs/j1/events?token=t%201');
    expect(withToken('/a?b=1', 't')).toBe('/a?b=1&token=t');
    expect(withToken('/a', null)).toBe('/a');
  });
});

describe('errorText', () => {
  it('prefers the API error field', () => {
    expect(errorText(409, 'Conflict', '{"error":"not in review"}')).toBe('not in review');
    expect(errorText(502, 'Bad Gateway', '')).toBe('502 Bad Gateway');
    expect(errorText(500, 'Internal', 'boom')).toBe('500 Internal: boom');
    expect(errorText(404, 'Not Found', '<html>…</html>')).toBe('404 Not Found');
  });
});
