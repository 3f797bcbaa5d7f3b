// Vendors Swagger UI (no CDN): copies the swagger-ui-dist files into dist/api-docs/ and writes a page
// that the server serves at /api/docs. Everything is loaded by absolute /api-docs/... URLs, and the
// init code lives in init.js, not inline, so it runs under the server's Content-Security-Policy.
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const dist = join(here, '..', 'dist')
const out = join(dist, 'api-docs')
const require = createRequire(import.meta.url)
const src = dirname(require.resolve('swagger-ui-dist/package.json'))

if (!existsSync(dist)) {
  console.error(`copy-swagger: ${dist} does not exist; run vite build first`)
  process.exit(1)
}
mkdirSync(out, { recursive: true })

for (const f of ['swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'favicon-32x32.png']) {
  copyFileSync(join(src, f), join(out, f))
}

writeFileSync(
  join(out, 'index.html'),
  `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>Wangge API · Swagger UI</title>
    <link rel="icon" type="image/png" href="/api-docs/favicon-32x32.png" />
    <link rel="stylesheet" href="/api-docs/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/api-docs/swagger-ui-bundle.js"></script>
    <script src="/api-docs/swagger-ui-standalone-preset.js"></script>
    <script src="/api-docs/init.js"></script>
  </body>
</html>
`,
)

writeFileSync(
  join(out, 'init.js'),
  `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/api/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: 'StandaloneLayout',
    validatorUrl: null,
    withCredentials: true,
  });
});
`,
)

console.log(`copy-swagger: wrote ${out}`)
