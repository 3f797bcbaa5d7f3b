import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, relative } from 'node:path'
import { fileURLToPath, URL } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'

/**
 * Vant's CSS carries its icon font as a `data:` URL with a fallback on a CDN. The server's
 * Content-Security-Policy (`default-src 'self'`) allows neither, and the app must not load anything
 * from outside. This plugin writes the embedded font to a file and points the @font-face at it, so
 * Vite emits it as an ordinary asset under /assets/ and the CDN fallback is dropped.
 */
function vantIconFontLocal(): Plugin {
  const cacheDir = fileURLToPath(new URL('./node_modules/.cache/wangge-vant-icon/', import.meta.url))
  const FONT_FACE_SRC =
    /src:url\(data:font\/woff2;charset=utf-8;base64,([A-Za-z0-9+/=]+)\) format\("woff2"\)(?:,url\([^)]*\) format\("[a-z0-9]+"\))*/g
  return {
    name: 'wangge:vant-icon-font-local',
    enforce: 'pre',
    transform(code, id) {
      const file = id.split('?')[0]
      if (!/[\\/]node_modules[\\/]vant[\\/].*\.css$/.test(file) || !code.includes('font-family:vant-icon')) return null
      let found = false
      const out = code.replace(FONT_FACE_SRC, (_m, b64: string) => {
        found = true
        const fontPath = `${cacheDir}vant-icon.woff2`
        mkdirSync(cacheDir, { recursive: true })
        writeFileSync(fontPath, Buffer.from(b64, 'base64'))
        const rel = relative(dirname(file), fontPath).split('\\').join('/')
        return `src:url("${rel}") format("woff2")`
      })
      if (!found) this.error(`vant-icon @font-face not recognised in ${file}: update the pattern in vite.config.ts`)
      return { code: out, map: null }
    },
  }
}

// Two apps in one build: the PC back office (index.html) and the mobile pages (m/index.html).
// The wangge binary embeds dist/ and does the SPA fallback for both.
export default defineConfig({
  base: '/',
  plugins: [vantIconFontLocal(), vue()],
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
    // Fonts must be files: the CSP does not allow `data:` fonts.
    assetsInlineLimit: (file) => (/\.(woff2?|ttf|otf|eot)$/.test(file) ? false : undefined),
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
