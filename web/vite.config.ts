import { defineConfig } from 'vitest/config';

// The built app is served by `redub serve --web web/dist` as static files:
// relative asset paths, no external URLs, no inlined remote fonts.
export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
  server: {
    // `npm run dev` proxies the API to a locally running `redub serve`.
    proxy: { '/api': process.env.REDUB_API ?? 'http://127.0.0.1:8091' },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
