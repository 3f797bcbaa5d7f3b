// End-to-end test of the dashboard (统计看板, /dashboard) against the real `wangge demo` server with
// generated demo cases, in headless Chromium:
//   the county duty leader (leader.county) sees the same figures as GET /api/v1/stats/cases, a
//   state table that adds up to the total, and a 90-day trend; a case reported through the API
//   shows after Refresh; a town's figures are smaller; a click on a state opens the case list with
//   that filter and the same count (and a category likewise);
//   a grid worker (worker.full) sees only their grid and is refused the county.
// Run: WANGGE_BIN=/path/to/wangge npm run e2e -- e2e/dashboard.test.mjs   (see harness.mjs)

import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { apiSession, backends, byTestId, DEMO_PASSWORD, loginPc, startServer, until, withPage } from './harness.mjs'

const TEST_TIMEOUT = 240_000
const DEMO_CASES = 200
const COUNTY = '320831' // 金湖县: leader.county's unit
const TOWN = { code: '320831001', name: '黎城街道' } // the town above worker.full's grid
const GRID = '320831001001001' // 城南社区第一网格, worker.full's grid
// the states that are not open (as the server counts them and the dashboard lists them)
const NOT_OPEN = ['closed', 'rated', 'not_filed', 'voided', 'draft']

/** The plain number a data-testid holds. */
async function num(page, id) {
  const text = (await byTestId(page, id).textContent()).trim()
  assert.match(text, /^\d+$/, `${id} holds a plain number: "${text}"`)
  return Number(text)
}

async function cards(page) {
  return {
    total: await num(page, 'dash-total'),
    open: await num(page, 'dash-open'),
    overdue: await num(page, 'dash-overdue'),
    closed: await num(page, 'dash-closed'),
  }
}

/** The state table as { state: count }, read from the page. */
async function stateTable(page) {
  const cells = page.locator('[data-testid="dash-states"] [data-testid^="dash-state-count-"]')
  const out = {}
  for (const cell of await cells.all()) {
    const id = await cell.getAttribute('data-testid')
    out[id.slice('dash-state-count-'.length)] = Number((await cell.textContent()).trim())
  }
  return out
}

/** The API's counts summed by state. */
function byState(stats) {
  const out = {}
  for (const c of stats.counts) out[c.state] = (out[c.state] ?? 0) + c.n
  return out
}

/** The case list's total, "共 1234 件" or "共 10,000+ 件", as a number. */
async function listTotal(page) {
  const text = (await byTestId(page, 'case-list-total').textContent()).trim()
  const m = /(\d[\d,]*)/.exec(text)
  assert.ok(m, `a number in "${text}"`)
  return Number(m[1].replace(/,/g, ''))
}

/** Waits until the dashboard shows the figures of `code` (after a load). */
async function showing(page, code) {
  await page.locator(`[data-testid="dash-unit-name"][data-code="${code}"]`).waitFor({ state: 'visible' })
  await byTestId(page, 'dash-total').waitFor({ state: 'visible' })
}

for (const backend of backends()) {
  describe(`dashboard on ${backend.name}`, { timeout: 15 * 60_000 }, () => {
    let server
    before(async () => {
      server = await startServer(backend, { demoCases: DEMO_CASES })
    }, { timeout: 240_000 })
    after(async () => {
      await server?.stop()
    })

    test('leader.county: figures as the API has them, a new case after Refresh, a town, and on to the case list', { timeout: TEST_TIMEOUT }, async () => {
      const leader = await apiSession(server.baseUrl, 'leader.county', DEMO_PASSWORD)
      const worker = await apiSession(server.baseUrl, 'worker.full', DEMO_PASSWORD)
      await withPage(server, 'dashboard-leader', async (page, { base }) => {
        await loginPc(page, base, 'leader.county', DEMO_PASSWORD)
        await byTestId(page, 'nav-dashboard').click()
        await page.waitForURL(/\/dashboard$/)
        await showing(page, COUNTY)

        // ── the cards are the API's figures for the same caller ──
        const first = await leader('GET', '/api/v1/stats/cases')
        assert.equal(first.status, 200, JSON.stringify(first.body))
        assert.equal(first.body.unit.code, COUNTY, 'the default unit is the caller’s own')
        const shown = await cards(page)
        assert.deepEqual(
          shown,
          { total: first.body.total, open: first.body.open, overdue: first.body.overdue, closed: first.body.closed },
          'the cards equal the API',
        )
        assert.ok(shown.total > 0, 'the demo has cases')
        assert.ok(shown.open + shown.closed <= shown.total && shown.overdue <= shown.open, JSON.stringify(shown))
        assert.match(await byTestId(page, 'dash-as-of').textContent(), /\d{4}-\d{2}-\d{2} \d{2}:\d{2}/)

        // ── the state table adds up to the total, state by state as the API counts ──
        const states = await stateTable(page)
        assert.equal(
          Object.values(states).reduce((a, n) => a + n, 0),
          shown.total,
          `the state table sums to the total: ${JSON.stringify(states)}`,
        )
        assert.deepEqual(states, byState(first.body))

        // ── the categories: at most 10, the most open cases first ──
        const catOpen = page.locator('[data-testid="dash-categories"] [data-testid^="dash-cat-open-"]')
        const opens = await Promise.all((await catOpen.all()).map(async (c) => Number((await c.textContent()).trim())))
        assert.ok(opens.length >= 1 && opens.length <= 10, `1–10 categories: ${opens.length}`)
        assert.deepEqual(opens, [...opens].sort((a, b) => b - a), 'the most open cases first')

        // ── the trend: 90 days, today last, with the API's numbers and a tooltip ──
        const trend = byTestId(page, 'dash-trend')
        await trend.waitFor({ state: 'visible' })
        const days = trend.locator('[data-day]')
        assert.equal(await days.count(), 90, '90 days')
        assert.equal(first.body.trend.length, 90)
        const lastDay = first.body.trend[89]
        assert.equal(await days.last().getAttribute('data-day'), lastDay.day)
        assert.equal(await days.first().getAttribute('data-day'), first.body.trend[0].day)
        const reportedShown = await days.evaluateAll((els) => els.reduce((a, e) => a + Number(e.getAttribute('data-reported')), 0))
        assert.equal(reportedShown, first.body.trend.reduce((a, d) => a + d.reported, 0))
        assert.equal(await trend.locator('polyline').count(), 2, 'a line for reported and one for closed')
        assert.match(await days.last().locator('title').textContent(), new RegExp(lastDay.day))
        await days.nth(45).hover()
        await byTestId(page, 'dash-trend-tip').waitFor({ state: 'visible' })
        assert.match(await byTestId(page, 'dash-trend-tip').textContent(), new RegExp(first.body.trend[45].day))

        // ── a new case, reported through the API, shows after Refresh ──
        const firstRow = page.locator('[data-testid="dash-states"] [data-testid^="dash-state-count-"]').first()
        const firstState = (await firstRow.getAttribute('data-testid')).slice('dash-state-count-'.length)
        const made = await worker('POST', '/api/v1/cases', {
          client_id: randomUUID(),
          unit_code: GRID,
          description: `城南小区路灯不亮，夜间出行不便（e2e 看板 ${backend.name}）`,
        })
        assert.equal(made.status, 201, JSON.stringify(made.body))
        const newState = made.body.state
        await byTestId(page, 'dash-refresh').click()
        await until(async () => (await num(page, 'dash-total')) === shown.total + 1, 'the total to grow by one')
        const after1 = await stateTable(page)
        assert.equal(after1[newState], (states[newState] ?? 0) + 1, `${newState} grew by one`)
        if (newState === firstState) assert.equal(after1[firstState], states[firstState] + 1, 'the first state grew by one')
        assert.equal(await num(page, 'dash-open'), shown.open + 1, 'a new case is open')
        assert.equal(Number(await days.last().getAttribute('data-reported')), lastDay.reported + 1, 'today’s reports grew by one')

        // ── a town: smaller figures, and in the address bar ──
        const sel = byTestId(page, 'dash-unit')
        await sel.click()
        await sel.locator('input').first().fill(TOWN.name)
        await page.locator(`[data-testid="dash-unit-option-${TOWN.code}"]`).click()
        await page.waitForURL(new RegExp(`/dashboard\\?unit=${TOWN.code}$`))
        await showing(page, TOWN.code)
        const town = await leader('GET', `/api/v1/stats/cases?unit=${TOWN.code}`)
        assert.equal(town.status, 200, JSON.stringify(town.body))
        const townCards = await cards(page)
        assert.equal(townCards.total, town.body.total)
        assert.ok(townCards.total < shown.total + 1, `the town (${townCards.total}) has fewer cases than the county (${shown.total + 1})`)
        assert.ok(townCards.total >= 1, 'the new case lies in the town')

        // ── a click on a state row: the case list with that state, the same count ──
        const townStates = await stateTable(page)
        const [state, count] = Object.entries(townStates).sort((a, b) => b[1] - a[1])[0]
        await byTestId(page, `dash-state-${state}`).click()
        await page.waitForURL(/\/cases\?/)
        const url = new URL(page.url())
        assert.equal(url.searchParams.get('state'), state)
        assert.equal(url.searchParams.get('unit'), TOWN.code)
        await until(async () => (await listTotal(page)) === count, `the case list to count ${count} ${state} cases`)
        const listed = await leader('GET', `/api/v1/cases?state=${state}&unit=${TOWN.code}&limit=1`)
        assert.equal(listed.body.total, count, 'the list API agrees')

        // ── and a category: its open cases ──
        await page.goBack()
        await page.waitForURL(/\/dashboard\?unit=/)
        await showing(page, TOWN.code)
        const cat = page.locator('[data-testid="dash-categories"] .cat-row.linked').first()
        const code = await cat.getAttribute('data-code')
        const open = Number((await byTestId(page, `dash-cat-open-${code}`).textContent()).trim())
        const expected = town.body.counts
          .filter((c) => c.category === code && !NOT_OPEN.includes(c.state))
          .reduce((a, c) => a + c.n, 0)
        assert.equal(open, expected, `the open cases of ${code} as the API counts them`)
        await cat.click()
        await page.waitForURL(/\/cases\?/)
        assert.equal(new URL(page.url()).searchParams.get('category'), code)
        await until(async () => (await listTotal(page)) === open, `the case list to count ${open} open cases of ${code}`)
      })
    })

    test('worker.full sees only their grid', { timeout: TEST_TIMEOUT }, async () => {
      const worker = await apiSession(server.baseUrl, 'worker.full', DEMO_PASSWORD)
      const leader = await apiSession(server.baseUrl, 'leader.county', DEMO_PASSWORD)
      const mine = await worker('GET', '/api/v1/stats/cases')
      assert.equal(mine.status, 200, JSON.stringify(mine.body))
      assert.equal(mine.body.unit.code, GRID)
      // outside the territory: refused (a unit outside it is as good as absent, 404 unit_not_found, as
      // elsewhere in the API; or 403 forbidden)
      const county = await worker('GET', `/api/v1/stats/cases?unit=${COUNTY}`)
      assert.ok(
        (county.status === 404 && county.body.code === 'unit_not_found') || (county.status === 403 && county.body.code === 'forbidden'),
        `${county.status} ${JSON.stringify(county.body)}`,
      )
      const none = await leader('GET', '/api/v1/stats/cases?unit=999999999')
      assert.equal(none.status, 404, JSON.stringify(none.body))
      assert.equal(none.body.code, 'unit_not_found')

      await withPage(server, 'dashboard-worker', async (page, { base }) => {
        await loginPc(page, base, 'worker.full', DEMO_PASSWORD)
        await byTestId(page, 'nav-dashboard').click()
        await showing(page, GRID)
        assert.equal(await num(page, 'dash-total'), mine.body.total)
        const states = await stateTable(page)
        assert.equal(Object.values(states).reduce((a, n) => a + n, 0), mine.body.total)
        // the county is outside the grid: the page says so instead of figures
        await page.goto(`${base}/dashboard?unit=${COUNTY}`)
        await byTestId(page, 'dash-error').waitFor({ state: 'visible' })
        assert.equal(await byTestId(page, 'dash-total').count(), 0, 'no figures for the county')
      })
    })
  })
}
