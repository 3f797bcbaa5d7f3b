// End-to-end tests of the grid pages (map, boundary import, drawing, grid changes, teams,
// publicity) against the real `wangge demo` server in headless Chromium.
// The tests run in order and build on each other. The demo county is tiled to the last micro-grid,
// so the setup adds a county of its own without boundaries (测试县 › 湖滨街道 › 东湖社区, 西湖社区)
// and a town operator who approves grid changes there; the import gives it boundaries, a grid is
// drawn in 东湖社区, split, staffed, and published. A second town's village (湖西镇 › 南湖村), given
// its boundary in the setup, is tiled by grids created from a GeoJSON file.
// Run: WANGGE_BIN=/path/to/wangge npm run e2e   (see harness.mjs)

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  apiSession,
  backends,
  byTestId,
  fillTestId,
  inputValue,
  loginPc,
  pageFetch,
  startServer,
  until,
  withPage,
} from './harness.mjs'

const TEST_TIMEOUT = 120_000
const COUNTY = '320899' // 测试县, made by the setup
const TOWN = '320899001' // 湖滨街道
const VILLAGE = '320899001001' // 东湖社区
const NEIGHBOUR = '320899001002' // 西湖社区
const BULK_TOWN = '320899002' // 湖西镇
const BULK_VILLAGE = '320899002001' // 南湖村: its grids come from a file
const APPROVER = { username: 'e2e.town', password: 'Town#2026e2e', name: '湖滨街道 审批员' }

/** A square [x0,y0]-[x1,y1] as a GeoJSON polygon ring. */
function square(x0, y0, x1, y1) {
  return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]
}

function feature(code, coordinates) {
  return { type: 'Feature', properties: { code, name: code }, geometry: { type: 'Polygon', coordinates } }
}

// east of the demo county (118.85–119.25°E); the villages tile the town
const TOWN_SHAPE = square(119.4, 33.0, 119.42, 33.01)
const VILLAGE_SHAPE = square(119.4, 33.0, 119.41, 33.01)
const NEIGHBOUR_SHAPE = square(119.41, 33.0, 119.42, 33.01)
// 南湖村, away from the other town; the grids from the file are its four quarters
const BULK_SHAPE = square(119.5, 33.0, 119.52, 33.02)
// a bow-tie: the ring crosses itself
const BOW_TIE = [[[119.41, 33.0], [119.42, 33.01], [119.42, 33.0], [119.41, 33.01], [119.41, 33.0]]]

/** The test county and the approver, through the API (as an administrator would set them up). */
async function setUp(server) {
  const admin = await apiSession(server.baseUrl, 'admin', server.adminPassword)
  const units = [
    { code: COUNTY, name: '测试县', level: 'county', parent_code: '3208', kind: 'county' },
    { code: TOWN, name: '湖滨街道', level: 'town', parent_code: COUNTY, kind: 'street' },
    { code: VILLAGE, name: '东湖社区', level: 'village', parent_code: TOWN, kind: 'community' },
    { code: NEIGHBOUR, name: '西湖社区', level: 'village', parent_code: TOWN, kind: 'community' },
    { code: BULK_TOWN, name: '湖西镇', level: 'town', parent_code: COUNTY, kind: 'street' },
    { code: BULK_VILLAGE, name: '南湖村', level: 'village', parent_code: BULK_TOWN, kind: 'community' },
  ]
  for (const u of units) {
    const r = await admin('POST', '/api/v1/units', u)
    assert.equal(r.status, 201, `create ${u.code}: ${JSON.stringify(r.body)}`)
  }
  // 南湖村's boundary, imported (the import takes the GeoJSON file as a JSON body)
  const imported = await admin('POST', '/api/v1/boundaries/import?format=geojson&code_field=code&accept_warnings=true', {
    type: 'FeatureCollection',
    features: [feature(BULK_VILLAGE, BULK_SHAPE)],
  })
  assert.equal(imported.status, 200, `import ${BULK_VILLAGE}: ${JSON.stringify(imported.body)}`)
  const user = await admin('POST', '/api/v1/users', {
    username: APPROVER.username,
    display_name: APPROVER.name,
    password: APPROVER.password,
  })
  assert.equal(user.status, 201, JSON.stringify(user.body))
  const grant = await admin('POST', `/api/v1/users/${user.body.id}/grants`, { role: 'center_operator', unit_code: TOWN })
  assert.equal(grant.status, 201, JSON.stringify(grant.body))
}

/** Chromium clicks on the map at fractions of an element's box (the polygon's screen box). */
async function clickAt(page, box, fx, fy) {
  await page.mouse.click(box.x + box.width * fx, box.y + box.height * fy)
  await page.waitForTimeout(80)
}

/** Draws a polygon with Geoman: clicks the vertices, then the first one again to close it. */
async function drawPolygon(page, box, points) {
  for (const [fx, fy] of points) await clickAt(page, box, fx, fy)
  await clickAt(page, box, points[0][0], points[0][1])
}

async function json(page, path) {
  const r = await pageFetch(page, path)
  assert.equal(r.status, 200, `${path}: ${r.text}`)
  return JSON.parse(r.text)
}

async function waitForShape(page, code) {
  const shape = page.locator(`[data-testid="map-unit-${code}"]`)
  await shape.waitFor({ state: 'attached' })
  return shape
}

/** Opens the map of a unit and waits for it to load. */
async function openMap(page, base, code, extra = '') {
  await page.goto(`${base}/map?unit=${code}${extra}`)
  await until(async () => (await byTestId(page, 'map-page').getAttribute('data-code')) === code, `the map of ${code}`)
  await byTestId(page, 'map-current').waitFor({ state: 'visible' })
}

for (const backend of backends()) {
  describe(`grid pages on ${backend.name}`, { timeout: 10 * 60_000 }, () => {
    let server
    let dir
    let grid // the drawn grid's code
    let parts // the codes of the grids the split made
    before(async () => {
      server = await startServer(backend)
      await setUp(server)
      dir = mkdtempSync(join(tmpdir(), 'wangge-e2e-grids-'))
    }, { timeout: 120_000 })
    after(async () => {
      await server?.stop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    test('boundary import: one bad feature rejects the whole file with a report; the fixed file draws the villages', { timeout: TEST_TIMEOUT }, async () => {
      const bad = join(dir, 'villages-bad.geojson')
      const good = join(dir, 'villages.geojson')
      const town = feature(TOWN, TOWN_SHAPE)
      writeFileSync(bad, JSON.stringify({ type: 'FeatureCollection', features: [town, feature(VILLAGE, VILLAGE_SHAPE), feature(NEIGHBOUR, BOW_TIE)] }))
      writeFileSync(good, JSON.stringify({ type: 'FeatureCollection', features: [town, feature(VILLAGE, VILLAGE_SHAPE), feature(NEIGHBOUR, NEIGHBOUR_SHAPE)] }))

      await withPage(server, 'boundary-import', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        await byTestId(page, 'nav-map').click()
        await page.waitForURL(/\/map\?unit=/)
        await openMap(page, base, TOWN)
        // no boundaries yet: every village is listed as missing
        await byTestId(page, `map-missing-${VILLAGE}`).waitFor({ state: 'visible' })

        await byTestId(page, 'btn-boundary-import').click()
        await byTestId(page, 'boundary-import-dialog').waitFor({ state: 'visible' })
        const upload = page.locator('[data-testid="boundary-import-upload"] input[type="file"]')
        await upload.setInputFiles(bad)
        await byTestId(page, 'boundary-import-submit').click()

        const problems = byTestId(page, 'topology-problems')
        await problems.waitFor({ state: 'visible' })
        assert.equal(await problems.getAttribute('data-reason'), 'boundary_import_rejected')
        assert.match(await byTestId(page, 'topology-summary').textContent(), /边界文件有错误/)
        const hit = page.locator(`[data-testid="topology-problem"][data-kind="self_intersection"]`)
        await hit.first().waitFor({ state: 'visible' })
        assert.equal(await hit.first().getAttribute('data-index'), '2')
        assert.equal(await hit.first().getAttribute('data-code'), NEIGHBOUR)
        const row = page.locator('[data-testid="topology-table"] .el-table__body tr').filter({ has: hit.first() })
        // shown counted from 1, as people (and message_zh) count
        assert.equal((await row.locator('[data-testid="topology-feature-no"]').textContent()).trim(), '3')
        const rowText = await row.textContent()
        assert.match(rowText, /边界自相交/)
        assert.match(rowText, new RegExp(NEIGHBOUR))
        // the report can be downloaded, as JSON and as GeoJSON
        const jsonLink = byTestId(page, 'topology-report-json')
        if (await jsonLink.count()) {
          const r = await pageFetch(page, await jsonLink.getAttribute('href'))
          assert.equal(r.status, 200)
          assert.match(r.text, /self_intersection/)
          const g = await pageFetch(page, await byTestId(page, 'topology-report-geojson').getAttribute('href'))
          assert.equal(g.status, 200)
          assert.equal(JSON.parse(g.text).type, 'FeatureCollection')
        }
        // all or nothing: the good feature of the rejected file was not imported
        const none = await pageFetch(page, `/api/v1/units/${VILLAGE}/boundary`)
        assert.equal(none.status, 404)
        assert.equal(JSON.parse(none.text).code, 'no_boundary')

        await upload.setInputFiles(good)
        await byTestId(page, 'boundary-import-submit').click()
        const ok = byTestId(page, 'boundary-import-success')
        await ok.waitFor({ state: 'visible' })
        assert.match(await ok.textContent(), /3/)
        await page.keyboard.press('Escape')
        await byTestId(page, 'boundary-import-dialog').waitFor({ state: 'hidden' })

        // the map shows both villages, labelled, and no longer lists them as missing
        await waitForShape(page, VILLAGE)
        await waitForShape(page, NEIGHBOUR)
        assert.equal((await byTestId(page, `map-label-${VILLAGE}`).textContent()).trim(), '东湖社区')
        // the town itself is the dashed outline
        await byTestId(page, 'map-outline').waitFor({ state: 'attached' })
        assert.equal(await page.locator(`[data-testid="map-missing-${VILLAGE}"]`).count(), 0)
        assert.ok(await byTestId(page, 'map-legend').isVisible())
      })
    })

    test('draw a grid inside 东湖社区: the gap warning is accepted, the grid is on the map and in the tree', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(server, 'draw-grid', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        await openMap(page, base, TOWN)
        // click the village: its card opens; drill down into it
        await (await waitForShape(page, VILLAGE)).click()
        const card = byTestId(page, 'grid-card')
        await card.waitFor({ state: 'visible' })
        await until(async () => (await byTestId(page, 'card-code').textContent())?.trim() === VILLAGE, 'the card of 东湖社区')
        await byTestId(page, 'card-drill').click()
        await until(async () => (await byTestId(page, 'map-current').textContent()).trim() === '东湖社区', 'the map of 东湖社区')
        await card.waitFor({ state: 'hidden' })

        const expected = (await json(page, `/api/v1/units/${VILLAGE}/next-code?level=grid`)).code
        await byTestId(page, 'btn-draw-grid').click()
        await byTestId(page, 'draw-bar').waitFor({ state: 'visible' })
        const box = await byTestId(page, 'map-outline').boundingBox()
        await drawPolygon(page, box, [[0.2, 0.2], [0.7, 0.2], [0.7, 0.8], [0.2, 0.8]])

        await byTestId(page, 'draw-grid-dialog').waitFor({ state: 'visible' })
        await until(async () => (await inputValue(page, 'draw-grid-code')) === expected, 'the code from next-code')
        await fillTestId(page, 'draw-grid-name', '东湖一网格')
        await byTestId(page, 'draw-grid-submit').click()
        // the grid does not cover the whole village: a gap warning, shown and accepted
        const problems = byTestId(page, 'topology-problems')
        await problems.waitFor({ state: 'visible' })
        assert.equal(await problems.getAttribute('data-reason'), 'topology_warnings')
        assert.ok(await page.locator('[data-testid="topology-problem"][data-kind="gap"]').count())
        await byTestId(page, 'draw-grid-accept').click()
        await byTestId(page, 'draw-grid-dialog').waitFor({ state: 'hidden' })
        grid = expected

        await waitForShape(page, grid)
        assert.equal((await byTestId(page, `map-label-${grid}`).textContent()).trim(), '东湖一网格')
        const b = await json(page, `/api/v1/units/${grid}/boundary`)
        assert.equal(b.geometry.type, 'Polygon')

        // and in the territory tree
        await byTestId(page, 'nav-territory').click()
        await fillTestId(page, 'territory-search', '东湖一网格')
        await byTestId(page, 'territory-search').press('Enter')
        await page.locator(`[data-testid="search-result"][data-code="${grid}"]`).click()
        await byTestId(page, `tree-node-${grid}`).waitFor({ state: 'visible' })
      })
    })

    test('split the grid by drawing a part; the proposer cannot approve; the town approves; history and map show it', { timeout: TEST_TIMEOUT }, async () => {
      assert.ok(grid, 'the previous test drew a grid')
      let changeId
      await withPage(server, 'split-propose', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        await openMap(page, base, VILLAGE, `&card=${grid}`)
        await byTestId(page, 'grid-card').waitFor({ state: 'visible' })
        await byTestId(page, 'card-split').click()
        await byTestId(page, 'draw-bar').waitFor({ state: 'visible' })
        // the card's overlay fades out before the map takes clicks
        await byTestId(page, 'grid-card').waitFor({ state: 'hidden' })
        // the west half of the grid: its corners and the middles of its north and south edges
        const box = await (await waitForShape(page, grid)).boundingBox()
        await drawPolygon(page, box, [[0, 0], [0.5, 0], [0.5, 1], [0, 1]])

        const dialog = byTestId(page, 'grid-change-dialog')
        await dialog.waitFor({ state: 'visible' })
        assert.equal(await dialog.getAttribute('data-kind'), 'split')
        await fillTestId(page, 'change-part-drawn-name', '东湖一网格西')
        await fillTestId(page, 'change-part-rest-name', '东湖一网格东')
        await fillTestId(page, 'change-reason', '户数增加，一分为二')
        await byTestId(page, 'change-submit').click()
        // the village is still not covered: accept the gap warning again if the server reports it
        await until(
          async () => !(await dialog.isVisible()) || (await page.locator('[data-testid="change-accept"]').isVisible()),
          'the change proposed or its warnings',
        )
        if (await dialog.isVisible()) {
          assert.equal(await byTestId(page, 'topology-problems').getAttribute('data-reason'), 'topology_warnings')
          await byTestId(page, 'change-accept').click()
          await dialog.waitFor({ state: 'hidden' })
        }
        const proposed = await json(page, `/api/v1/grid-changes?unit=${grid}&status=proposed`)
        assert.equal(proposed.items.length, 1)
        changeId = proposed.items[0].id
        assert.equal(proposed.items[0].kind, 'split')

        // the proposer may not approve it: the translated error
        await page.goto(`${base}/grid-changes?id=${changeId}`)
        await byTestId(page, 'change-approve').click()
        await page.locator('.change-approve-box .el-button--primary').click()
        const msg = page.locator('.el-message--error')
        await msg.first().waitFor({ state: 'visible' })
        assert.match(await msg.first().textContent(), /须由提出人以外的人审批/)
      })

      await withPage(server, 'split-approve', async (page, { base }) => {
        await loginPc(page, base, APPROVER.username, APPROVER.password)
        await byTestId(page, 'nav-grid-changes').click()
        await page.waitForURL(/\/grid-changes/)
        await byTestId(page, 'changes-status-proposed').click()
        await byTestId(page, `change-open-${changeId}`).click()
        await byTestId(page, 'change-detail').waitFor({ state: 'visible' })
        await byTestId(page, 'change-map').waitFor({ state: 'visible' })
        await byTestId(page, 'change-approve').click()
        await page.locator('.change-approve-box input').fill('同意')
        await page.locator('.change-approve-box .el-button--primary').click()
        // effective today: applied at once
        await until(async () => (await byTestId(page, 'change-info').getAttribute('data-status')) === 'effective', 'the change in effect')
        assert.match(await byTestId(page, 'change-status').textContent(), /已生效/)
        parts = (await byTestId(page, 'change-result-codes').textContent()).split(',').map((s) => s.trim())
        assert.equal(parts.length, 2)
      })

      await withPage(server, 'split-after', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        // the map of the village today: the two new grids, not the old one
        await openMap(page, base, VILLAGE)
        for (const c of parts) await waitForShape(page, c)
        assert.equal(await page.locator(`[data-testid="map-unit-${grid}"]`).count(), 0)
        const labels = await Promise.all(parts.map(async (c) => (await byTestId(page, `map-label-${c}`).textContent()).trim()))
        assert.deepEqual(labels.sort(), ['东湖一网格东', '东湖一网格西'].sort())

        // the map at yesterday's date: none of these grids existed yet
        const yesterday = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai' }).format(Date.now() - 86_400_000)
        await openMap(page, base, VILLAGE, `&at=${yesterday}`)
        assert.equal(await inputValue(page, 'map-date'), yesterday)
        await until(async () => (await page.locator('[data-testid^="map-unit-"]').count()) === 0, 'an empty map yesterday')

        // the old grid's history: the split in the timeline
        await openMap(page, base, VILLAGE, `&card=${grid}`)
        await byTestId(page, 'grid-card').waitFor({ state: 'visible' })
        await byTestId(page, 'card-retired').waitFor({ state: 'visible' })
        await page.locator('[data-testid="grid-card"] .el-tabs__item', { hasText: '历史' }).click()
        const items = page.locator('[data-testid="timeline-item"]')
        await items.first().waitFor({ state: 'visible' })
        assert.match(await byTestId(page, 'timeline').textContent(), /拆分/)
        // its boundary version can be shown on the map again
        const show = page.locator('[data-testid^="boundary-version-show-"]').first()
        await show.click()
        await byTestId(page, 'map-highlight').waitFor({ state: 'attached' })
        await byTestId(page, 'map-highlight-chip').waitFor({ state: 'visible' })
      })
    })

    test('team: assigning a grid head takes the grid off the missing-head list of the team report', { timeout: TEST_TIMEOUT }, async () => {
      assert.ok(parts?.length, 'the previous test split the grid')
      const target = parts[0]
      await withPage(server, 'team', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        await page.goto(`${base}/team-report?unit=${VILLAGE}`)
        const row = page.locator(`[data-testid="team-report-row"][data-code="${target}"]`)
        await row.waitFor({ state: 'attached' })
        assert.match(await row.getAttribute('data-missing'), /\bgrid_head\b/)

        await openMap(page, base, VILLAGE, `&card=${target}`)
        await byTestId(page, 'grid-card').waitFor({ state: 'visible' })
        await page.locator('[data-testid="grid-card"] .el-tabs__item', { hasText: '团队' }).click()
        const user = byTestId(page, 'team-user')
        await user.click()
        await user.locator('input').first().fill('head.grid')
        await page.locator('[data-testid="team-user-option-head.grid"]').click()
        await byTestId(page, 'team-role').click()
        await page.locator('[data-testid="team-role-option-grid_head"]').click()
        await fillTestId(page, 'team-duty', '全面负责网格工作')
        await byTestId(page, 'team-add-submit').click()
        const member = page.locator('[data-testid="team-member"][data-role="grid_head"]')
        await member.waitFor({ state: 'visible' })
        assert.match(await member.textContent(), /陈芳/)

        await page.goto(`${base}/team-report?unit=${VILLAGE}`)
        await byTestId(page, 'team-report-grids').waitFor({ state: 'visible' })
        await until(async () => {
          const r = page.locator(`[data-testid="team-report-row"][data-code="${target}"]`)
          return (await r.count()) === 0 || !/\bgrid_head\b/.test(await r.getAttribute('data-missing'))
        }, 'the grid no longer missing a head')
        // the other new grid still lacks its head
        const other = page.locator(`[data-testid="team-report-row"][data-code="${parts[1]}"]`)
        assert.match(await other.getAttribute('data-missing'), /\bgrid_head\b/)
      })
    })

    test('publicity: the board prints with its QR code, the contact cards, and the public mobile page shows the team', { timeout: TEST_TIMEOUT }, async () => {
      assert.ok(parts?.length, 'the grids exist')
      const target = parts[0]
      await withPage(server, 'board', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        await page.goto(`${base}/board/${target}`)
        await byTestId(page, 'board-sheet').waitFor({ state: 'visible' })
        assert.equal((await byTestId(page, 'board-code').textContent()).trim(), target)
        assert.match(await byTestId(page, 'board-chain').textContent(), /测试县.*湖滨街道.*东湖社区/)
        assert.match(await byTestId(page, 'board-team').textContent(), /陈芳/)
        await byTestId(page, 'boundary-svg').waitFor({ state: 'visible' })
        const qr = byTestId(page, 'board-qr')
        await until(() => qr.evaluate((img) => img.complete && img.naturalWidth > 0), 'the QR code image')
        // no app chrome, and a print style sheet for A4 that hides the toolbar
        assert.equal(await page.locator('[data-testid="side-nav"]').count(), 0)
        const printRules = await page.evaluate(() =>
          [...document.styleSheets].some((s) => {
            try {
              return [...s.cssRules].some((r) => r instanceof CSSMediaRule && r.media.mediaText.includes('print'))
            } catch {
              return false
            }
          }),
        )
        assert.ok(printRules, 'a @media print rule exists')
        await page.emulateMedia({ media: 'print' })
        assert.equal(await byTestId(page, 'btn-print').isVisible(), false)
        await page.emulateMedia({ media: 'screen' })

        await page.goto(`${base}/cards/${VILLAGE}`)
        const cards = page.locator('[data-testid="contact-card"]')
        await until(async () => (await cards.count()) === 2, 'a contact card per grid')
        assert.match(await page.locator(`[data-testid="contact-card"][data-code="${target}"]`).textContent(), /陈芳/)
      })

      await withPage(
        server,
        'mobile-grid',
        async (page, { base }) => {
          // no login: the QR code's page is public
          await page.goto(`${base}/m/grid/${target}`)
          await byTestId(page, 'm-grid-name').waitFor({ state: 'visible' })
          assert.match(page.url(), new RegExp(`/m/grid/${target}$`))
          assert.match(await byTestId(page, 'm-grid-chain').textContent(), /东湖社区/)
          const member = page.locator('[data-testid="m-grid-member"][data-role="grid_head"]')
          await member.waitFor({ state: 'visible' })
          assert.match(await member.textContent(), /陈芳/)
          assert.match(await member.textContent(), /网格长/)
          assert.match(await member.textContent(), /全面负责网格工作/)
          assert.ok(await byTestId(page, 'm-grid-note').isVisible())
        },
        { mobile: true },
      )
    })

    test('grids from a file: four quarters in scrambled order are numbered west→east, north→south and drawn on the map', { timeout: TEST_TIMEOUT }, async () => {
      /** A quarter of 南湖村 (0.01° square from its south-west corner x, y) as a grid feature. */
      const quarter = (properties, x, y) => ({
        type: 'Feature',
        properties,
        geometry: { type: 'Polygon', coordinates: square(x, y, x + 0.01, y + 0.01) },
      })
      const bad = join(dir, 'grids-bad.geojson')
      const good = join(dir, 'grids.json')
      // a single Feature, not a FeatureCollection
      writeFileSync(bad, JSON.stringify(quarter({ name: '孤立' }, 119.5, 33.0)))
      // scrambled: south-east, north-west (named by 名称, with a kind), south-west, north-east
      const features = [
        quarter({ name: '南湖东南网格' }, 119.51, 33.0),
        quarter({ 名称: '南湖西北网格', kind: 'basic' }, 119.5, 33.01),
        quarter({ name: '南湖西南网格' }, 119.5, 33.0),
        quarter({ name: '南湖东北网格' }, 119.51, 33.01),
      ]
      writeFileSync(good, JSON.stringify({ type: 'FeatureCollection', features }))
      // the third feature is a point: the server refuses the whole file and names it
      const invalid = join(dir, 'grids-invalid.geojson')
      const point = { type: 'Feature', properties: { name: '点' }, geometry: { type: 'Point', coordinates: [119.505, 33.005] } }
      writeFileSync(invalid, JSON.stringify({ type: 'FeatureCollection', features: [features[0], features[1], point] }))
      const expected = {
        [`${BULK_VILLAGE}001`]: '南湖西北网格',
        [`${BULK_VILLAGE}002`]: '南湖东北网格',
        [`${BULK_VILLAGE}003`]: '南湖西南网格',
        [`${BULK_VILLAGE}004`]: '南湖东南网格',
      }

      await withPage(server, 'grid-bulk', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        await openMap(page, base, BULK_VILLAGE)
        await byTestId(page, 'btn-grid-bulk').click()
        const dialog = byTestId(page, 'grid-bulk-dialog')
        await dialog.waitFor({ state: 'visible' })
        const upload = page.locator('[data-testid="grid-bulk-upload"] input[type="file"]')

        // read in the browser: not a FeatureCollection is said so, and nothing can be sent
        await upload.setInputFiles(bad)
        const parseError = byTestId(page, 'grid-bulk-parse-error')
        await parseError.waitFor({ state: 'visible' })
        assert.match(await parseError.textContent(), /不是 GeoJSON 要素集合/)
        assert.ok(await byTestId(page, 'grid-bulk-submit').isDisabled())

        // an invalid geometry: the server's report in the problems table, feature 3 (counted from 1)
        await upload.setInputFiles(invalid)
        await until(async () => (await byTestId(page, 'grid-bulk-preview').getAttribute('data-count')) === '3', 'the preview of 3 grids')
        await byTestId(page, 'grid-bulk-submit').click()
        const problems = byTestId(page, 'topology-problems')
        await problems.waitFor({ state: 'visible' })
        assert.equal(await problems.getAttribute('data-reason'), 'topology_invalid')
        const hit = page.locator('[data-testid="topology-problem"]').first()
        assert.equal(await hit.getAttribute('data-index'), '2')
        assert.equal((await byTestId(page, 'topology-feature-no').textContent()).trim(), '3')

        // the preview lists the grids in the file's order
        await upload.setInputFiles(good)
        const preview = byTestId(page, 'grid-bulk-preview')
        await until(async () => (await preview.getAttribute('data-count')) === '4', 'the preview of 4 grids')
        assert.equal(await page.locator('[data-testid="grid-bulk-parse-error"]').count(), 0)
        assert.equal(await page.locator('[data-testid="topology-problems"]').count(), 0)
        const listed = await page.locator('[data-testid="grid-bulk-preview-item"]').allTextContents()
        assert.deepEqual(
          listed.map((s) => s.trim().split(/\s+/)[0]),
          ['南湖东南网格', '南湖西北网格', '南湖西南网格', '南湖东北网格'],
        )

        await byTestId(page, 'grid-bulk-submit').click()
        await byTestId(page, 'grid-bulk-success').waitFor({ state: 'visible' })
        const rows = page.locator('[data-testid="grid-bulk-created"] .el-table__body tr')
        await until(async () => (await rows.count()) === 4, 'a row per created grid')
        const made = {}
        for (const row of await rows.all()) {
          const c = (await row.locator('[data-testid="grid-bulk-created-code"]').textContent()).trim()
          made[c] = (await row.locator('[data-testid="grid-bulk-created-name"]').textContent()).trim()
        }
        assert.deepEqual(made, expected)
        await page.keyboard.press('Escape')
        await dialog.waitFor({ state: 'hidden' })

        // the map shows them, labelled, and the kind from the file was kept
        for (const [c, name] of Object.entries(expected)) {
          await waitForShape(page, c)
          assert.equal((await byTestId(page, `map-label-${c}`).textContent()).trim(), name)
          await byTestId(page, `map-child-${c}`).waitFor({ state: 'visible' })
        }
        const nw = await json(page, `/api/v1/units/${BULK_VILLAGE}001`)
        assert.equal((nw.unit ?? nw).kind, 'basic')
      })
    })
  })
}
