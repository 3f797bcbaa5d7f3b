import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// Two apps in one build: the PC back office (index.html) and the mobile pages (m/index.html).
// The wangge binary embeds dist/ and does the SPA fallback for both.
export default defineConfig({
  base: '/',
  plugins: [vue()],
  define: {
    __VUE_OPTIONS_API__: 'true',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
    __INTLIFY_PROD_DEVTOOLS__: 'false',
  },
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rolldownOptions: {
      input: {
        main: fileURLToPath(new URL('./index.html', import.meta.url)),
        mobile: fileURLToPath(new URL('./m/index.html', import.meta.url)),
      },
    },
  },
  server: {
    // `npm run dev` talks to a running `wangge serve` (default 127.0.0.1:8080).
    proxy: {
      '/api': process.env.WANGGE_DEV_API ?? 'http://127.0.0.1:8080',
      '/readyz': process.env.WANGGE_DEV_API ?? 'http://127.0.0.1:8080',
    },
  },
})
