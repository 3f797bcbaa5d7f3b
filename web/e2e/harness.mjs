// End-to-end harness: starts the real `wangge` binary with demo data, drives Debian's Chromium with
// playwright-core, and cleans up after itself. Nothing here fakes the server.
//
// Environment:
//   WANGGE_BIN                 path to the built `wangge` binary (required)
//   WANGGE_TEST_DATABASE_URL   optional PostgreSQL URL: the whole suite then runs a second time on it
//   CHROMIUM                   optional browser path (default /usr/bin/chromium)
//   E2E_KEEP=1                 keep the temporary data directories for inspection

import { spawn, spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

export const DEMO_PASSWORD = 'Demo#2026'
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const KEEP = process.env.E2E_KEEP === '1'

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
]

let shotDir = null
function screenshotDir() {
  if (!shotDir) shotDir = mkdtempSync(join(tmpdir(), 'wangge-e2e-shots-'))
  return shotDir
}

/** The backends the suite runs on: SQLite always, PostgreSQL when WANGGE_TEST_DATABASE_URL is set. */
export function backends() {
  const list = [{ name: 'sqlite' }]
  const url = process.env.WANGGE_TEST_DATABASE_URL
  if (url) list.push({ name: 'postgres', url, schema: 'wangge_e2e' })
  return list
}

function requireBinary() {
  const bin = process.env.WANGGE_BIN
  if (!bin) {
    throw new Error(
      'WANGGE_BIN is not set: build the server (cargo build -p wangge-cli) and run ' +
        '`WANGGE_BIN=/path/to/wangge npm run e2e`',
    )
  }
  if (!existsSync(bin) || !statSync(bin).isFile()) throw new Error(`WANGGE_BIN=${bin} does not exist`)
  return bin
}

function requireChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`)
  }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function withSearchPath(url, schema) {
  const opt = `options=-c%20search_path%3D${schema}`
  return url.includes('?') ? `${url}&${opt}` : `${url}?${opt}`
}

function resetSchema(url, schema) {
  const r = spawnSync(
    'psql',
    [url, '-v', 'ON_ERROR_STOP=1', '-c', `DROP SCHEMA IF EXISTS ${schema} CASCADE`, '-c', `CREATE SCHEMA ${schema}`],
    { encoding: 'utf8' },
  )
  if (r.error) throw new Error(`psql could not run: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr}`)
}

function tail(path, n = 40) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-n).join('\n')
  } catch {
    return '(no log)'
  }
}

let demoFlags = null
/** The options of `wangge demo --help` this binary has (older builds lack `--cases`). */
function demoHas(bin, flag) {
  if (demoFlags === null) {
    const r = spawnSync(bin, ['demo', '--help'], { encoding: 'utf8' })
    demoFlags = `${r.stdout ?? ''}${r.stderr ?? ''}`
  }
  return demoFlags.includes(flag)
}

/**
 * Starts `wangge demo` on a free port with a fresh data directory (and a fresh PostgreSQL schema
 * for the postgres backend) and waits until GET /readyz answers 200. `demoCases` is the number of
 * generated demo cases (default 0, for speed) when the binary has `--cases`. `config` is the text of
 * a `wangge.toml` written to the data directory before the start (the server reads it from there).
 */
export async function startServer(backend, { demoCases = 0, config } = {}) {
  const bin = requireBinary()
  requireChromium()
  const dataDir = mkdtempSync(join(tmpdir(), `wangge-e2e-${backend.name}-`))
  if (config !== undefined) writeFileSync(join(dataDir, 'wangge.toml'), config)
  const port = await freePort()
  const adminPassword = `Adm1n#${Math.random().toString(36).slice(2, 10)}`
  const args = ['demo', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--admin-password', adminPassword]
  if (demoHas(bin, '--cases')) args.push('--cases', String(demoCases))
  if (backend.url) {
    resetSchema(backend.url, backend.schema)
    args.push('--database-url', withSearchPath(backend.url, backend.schema))
  }
  const logPath = join(dataDir, 'server.log')
  const log = createWriteStream(logPath)
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
  child.stdout.pipe(log)
  child.stderr.pipe(log)
  let exited = null
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal }
      resolve(exited)
    })
  })

  const baseUrl = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  let ready = false
  while (Date.now() < deadline) {
    if (exited) break
    try {
      const r = await fetch(`${baseUrl}/readyz`)
      if (r.status === 200) {
        ready = true
        break
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  if (!ready) {
    if (!exited) child.kill('SIGKILL')
    const why = exited ? `exited early (${JSON.stringify(exited)})` : 'was not ready within 60 s'
    throw new Error(`wangge ${why}; ${bin} ${args.join(' ')}\nlog ${logPath}:\n${tail(logPath)}`)
  }

  async function stop() {
    if (!exited) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exitPromise
      clearTimeout(timer)
    }
    log.end()
    if (backend.url) {
      try {
        resetSchema(backend.url, backend.schema)
      } catch {
        // best effort
      }
    }
    if (!KEEP) rmSync(dataDir, { recursive: true, force: true })
  }

  return { baseUrl, adminPassword, logPath, dataDir, stop, backend: backend.name }
}

/** Polls `fn` until it returns a truthy value (which it returns) or the timeout passes. */
export async function until(fn, what, timeout = 15_000) {
  const deadline = Date.now() + timeout
  let last
  while (Date.now() < deadline) {
    try {
      last = await fn()
      if (last) return last
    } catch (e) {
      last = e
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
}

/**
 * Runs `fn(page, ctx)` in a fresh Chromium (new temporary user-data dir). On failure it saves a
 * screenshot and prints its path. It also fails the test on uncaught page errors and on
 * Content-Security-Policy violations.
 */
export async function withPage(server, name, fn, { mobile = false } = {}) {
  requireChromium()
  const userDataDir = mkdtempSync(join(tmpdir(), 'wangge-e2e-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: mobile ? { width: 390, height: 844 } : { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    isMobile: mobile,
    hasTouch: mobile,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    acceptDownloads: false,
  })
  context.setDefaultTimeout(15_000)
  const page = context.pages()[0] ?? (await context.newPage())
  const problems = []
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('console', (m) => {
    const text = m.text()
    if (/Content[- ]Security[- ]Policy|Refused to (load|execute|apply|connect)/i.test(text)) {
      problems.push(`CSP: ${text}`)
    } else if (text.startsWith('[wangge] unhandled error')) {
      problems.push(text)
    }
  })
  try {
    await fn(page, { context, base: server.baseUrl })
    if (problems.length) throw new Error(`problems in the page:\n${problems.join('\n')}`)
  } catch (e) {
    const shot = join(screenshotDir(), `${server.backend}-${name}-${Date.now()}.png`)
    try {
      await page.screenshot({ path: shot, fullPage: true })
      console.error(`# screenshot of the failure: ${shot}`)
    } catch (se) {
      console.error(`# screenshot failed: ${se.message}`)
    }
    console.error(`# server log: ${server.logPath}${KEEP ? '' : ' (set E2E_KEEP=1 to keep it)'}`)
    if (problems.length && !String(e.message).startsWith('problems in the page')) {
      console.error(`# page problems:\n${problems.join('\n')}`)
    }
    throw e
  } finally {
    await context.close().catch(() => {})
    rmSync(userDataDir, { recursive: true, force: true })
  }
}

/** The element with this data-testid (the first one when several match). */
export function byTestId(page, id) {
  return page.locator(`[data-testid="${id}"]`).first()
}

/** Fills an input given by data-testid, whether the attribute sits on the <input> or on a wrapper. */
export async function fillTestId(page, id, value) {
  const el = byTestId(page, id)
  await el.waitFor({ state: 'visible' })
  const tag = await el.evaluate((n) => n.tagName.toLowerCase())
  const input = tag === 'input' || tag === 'textarea' ? el : el.locator('input, textarea').first()
  await input.fill(value)
}

/** Reads the value of an input given by data-testid (on the input or on a wrapper). */
export async function inputValue(page, id) {
  const el = byTestId(page, id)
  await el.waitFor({ state: 'visible' })
  const tag = await el.evaluate((n) => n.tagName.toLowerCase())
  const input = tag === 'input' || tag === 'textarea' ? el : el.locator('input, textarea').first()
  return input.inputValue()
}

/** Logs in through the PC login page and waits for the main layout. */
export async function loginPc(page, base, username, password) {
  await page.goto(`${base}/login`)
  await fillTestId(page, 'login-username', username)
  await fillTestId(page, 'login-password', password)
  await byTestId(page, 'login-submit').click()
  await byTestId(page, 'side-nav').waitFor({ state: 'visible' })
}

/** Logs in through the mobile login page (/m/login) and waits for the tab bar. */
export async function loginMobile(page, base, username, password) {
  await page.goto(`${base}/m/login`)
  await fillTestId(page, 'm-login-username', username)
  await fillTestId(page, 'm-login-password', password)
  await byTestId(page, 'm-login-submit').click()
  await byTestId(page, 'm-tabbar').waitFor({ state: 'visible' })
}

/** fetch() from inside the page (same origin, with the session cookie). */
export async function pageFetch(page, path, init = {}) {
  return page.evaluate(
    async ([p, i]) => {
      const r = await fetch(p, { credentials: 'same-origin', ...i })
      return { status: r.status, text: await r.text(), type: r.headers.get('content-type') }
    },
    [path, init],
  )
}

/**
 * Signs in through the API from Node (no browser) for test setup: returns `call(method, path, body)`
 * that sends the session cookie and the CSRF token and resolves to `{ status, body }`.
 */
export async function apiSession(base, username, password) {
  const r = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (r.status !== 200) throw new Error(`login of ${username} failed: ${r.status} ${await r.text()}`)
  const { csrf_token: csrf } = await r.json()
  const cookie = r.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ')
  return async function call(method, path, body) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { Cookie: cookie, 'X-CSRF-Token': csrf, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    let parsed = text
    try {
      parsed = text ? JSON.parse(text) : null
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed }
  }
}
