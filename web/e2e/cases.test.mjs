// End-to-end test of the case closed loop through the real UIs, against the real `wangge demo`
// server in headless Chromium (phone-sized for the mobile pages):
//   a resident reports from the grid's QR page with a photo and gets a tracking code;
//   the grid worker (worker.full, phone) escalates it with a reason;
//   the village centre (operator.village, phone) escalates it to the town;
//   the town centre (operator.town, PC back office) accepts, files and dispatches it to 金湖县城市管理局;
//   the department (dept.handler, phone) accepts it and reports the result with a photo;
//   the grid worker (phone) checks on site and passes it;
//   the resident follows it by the tracking code and rates it "satisfied".
// Then the offline outbox: a report made without a network is kept on the phone and sent once on
// reconnect; a report whose answer is lost is sent again with the same client id and stays one case.
// Run: WANGGE_BIN=/path/to/wangge npm run e2e -- e2e/cases.test.mjs   (see harness.mjs)

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deflateSync } from 'node:zlib'
import { after, before, describe, test } from 'node:test'
import {
  apiSession,
  backends,
  byTestId,
  DEMO_PASSWORD,
  fillTestId,
  loginMobile,
  loginPc,
  startServer,
  until,
  withPage,
} from './harness.mjs'

const TEST_TIMEOUT = 240_000
const GRID = '320831001001001' // 城南社区第一网格, worker.full's grid
const VILLAGE = '320831001001' // 城南社区: operator.village's centre
const TOWN = '320831001' // 黎城街道: operator.town's centre
const DEPT = { code: 'cg-320831', name: '金湖县城市管理局', kind: 'urban_management', unit: '320831' }
const CATEGORY = { code: 'G0401', name: '暴露垃圾' }

// ── a small valid PNG, written from bytes ──
function crc32(buf) {
  let crc = ~0
  for (const b of buf) {
    crc ^= b
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1))
  }
  return ~crc >>> 0
}
function chunk(type, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}
/** A w×h PNG of one colour (distinct colours give distinct files: uploads are kept by content). */
function png(w, h, [r, g, b]) {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // truecolour
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => [r, g, b]).flat())])
  const raw = Buffer.concat(Array.from({ length: h }, () => row))
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

/** Makes sure the people of the loop exist (the demo makes them; older demos lack some). */
async function ensurePeople(server) {
  const admin = await apiSession(server.baseUrl, 'admin', server.adminPassword)
  const userId = async (username) => {
    const r = await admin('GET', `/api/v1/users?q=${encodeURIComponent(username)}`)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body.items.find((u) => u.username === username)?.id ?? null
  }
  if ((await userId('operator.village')) === null) {
    const u = await admin('POST', '/api/v1/users', {
      username: 'operator.village',
      display_name: '城南社区综治中心 e2e',
      password: DEMO_PASSWORD,
    })
    assert.equal(u.status, 201, JSON.stringify(u.body))
    const g = await admin('POST', `/api/v1/users/${u.body.id}/grants`, { role: 'center_operator', unit_code: VILLAGE })
    assert.equal(g.status, 201, JSON.stringify(g.body))
  }
  const list = await admin('GET', '/api/v1/departments')
  assert.equal(list.status, 200, JSON.stringify(list.body))
  let dept = list.body.items.find((d) => d.code === DEPT.code)
  if (!dept) {
    const r = await admin('POST', '/api/v1/departments', { code: DEPT.code, name: DEPT.name, kind: DEPT.kind, unit_code: DEPT.unit })
    assert.equal(r.status, 201, JSON.stringify(r.body))
    dept = r.body
  }
  const handler = await userId('dept.handler')
  assert.ok(handler, 'the demo has dept.handler')
  if (!dept.members?.some((m) => (m.user_id ?? m.id) === handler)) {
    const r = await admin('PUT', `/api/v1/departments/${dept.id}/members/${handler}`)
    assert.ok(r.status === 200 || r.status === 409, JSON.stringify(r.body))
  }
  return { admin, deptId: dept.id }
}

/** A point inside the grid (the middle of its boundary's box), checked with /locate. */
async function pointInGrid(admin) {
  const r = await admin('GET', `/api/v1/units/${GRID}/boundary`)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  const flat = JSON.stringify(r.body.geometry)
    .match(/-?\d+\.\d+/g)
    .map(Number)
  const xs = flat.filter((_, i) => i % 2 === 0)
  const ys = flat.filter((_, i) => i % 2 === 1)
  const lng = (Math.min(...xs) + Math.max(...xs)) / 2
  const lat = (Math.min(...ys) + Math.max(...ys)) / 2
  const loc = await admin('GET', `/api/v1/locate?lat=${lat}&lng=${lng}`)
  assert.equal(loc.status, 200, JSON.stringify(loc.body))
  assert.ok(JSON.stringify(loc.body).includes(GRID), `the point lies in ${GRID}: ${JSON.stringify(loc.body)}`)
  return { latitude: lat, longitude: lng }
}

const state = (page, s) => page.locator(`[data-testid="m-case-detail"][data-state="${s}"]`).waitFor({ state: 'attached' })

/** Takes a step on the open mobile case page: the button, a note, photos, submit, the new state. */
async function mobileStep(page, action, { note, photo, expect } = {}) {
  await byTestId(page, `m-case-action-${action}`).click()
  const popup = page.locator(`[data-testid="m-action-popup"][data-action="${action}"]`)
  await popup.waitFor({ state: 'visible' })
  if (note) await fillTestId(page, 'm-action-note', note)
  if (photo) {
    await page.locator('[data-testid="m-action-photos-input"]').setInputFiles(photo)
    await popup.locator('[data-testid="m-photo"][data-status="done"]').waitFor({ state: 'visible' })
  }
  await popup.locator('[data-testid="m-action-submit"]').click()
  await popup.waitFor({ state: 'detached' })
  if (expect) await state(page, expect)
}

/** Opens a case from a mobile work list. */
async function openFromList(page, view, number) {
  await byTestId(page, 'm-tab-cases').click()
  await byTestId(page, 'm-cases-page').waitFor({ state: 'visible' })
  await byTestId(page, `m-cases-tab-${view}`).click()
  const item = page.locator(`[data-testid="m-case-list-${view}"] [data-testid="m-case-item"][data-number="${number}"]`)
  await item.waitFor({ state: 'visible' })
  await item.click()
  await page.waitForURL(/\/m\/cases\/\d+$/)
  await byTestId(page, 'm-case-number').waitFor({ state: 'visible' })
  assert.equal((await byTestId(page, 'm-case-number').textContent()).trim(), number)
}

async function imageLoaded(locator) {
  await locator.waitFor({ state: 'visible' })
  return until(() => locator.evaluate((img) => img.complete && img.naturalWidth > 0), 'the photo to load')
}

for (const backend of backends()) {
  describe(`case loop on ${backend.name}`, { timeout: 15 * 60_000 }, () => {
    let server
    let dir
    let admin
    const photos = {}
    before(async () => {
      server = await startServer(backend)
      ;({ admin } = await ensurePeople(server))
      dir = mkdtempSync(join(tmpdir(), 'wangge-e2e-cases-'))
      for (const [name, colour] of Object.entries({ before: [200, 40, 40], after: [40, 160, 60], offline: [40, 80, 200] })) {
        photos[name] = join(dir, `${name}.png`)
        writeFileSync(photos[name], png(8, 6, colour))
      }
    }, { timeout: 120_000 })
    after(async () => {
      await server?.stop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    test('the whole loop: resident report → grid → village → town (PC) → department → check → rating', { timeout: TEST_TIMEOUT }, async () => {
      const description = `城南小区3号楼门口垃圾堆了三天没人清运，气味很大（e2e ${backend.name}）`
      let tracking
      let number

      // ── the resident reports from the grid's QR page, with a photo, anonymously ──
      await withPage(
        server,
        'resident-report',
        async (page, { base }) => {
          await page.goto(`${base}/m/grid/${GRID}`)
          await byTestId(page, 'm-grid-name').waitFor({ state: 'visible' })
          await byTestId(page, 'm-grid-report').click()
          await page.waitForURL(new RegExp(`/m/grid/${GRID}/report$`))
          await until(async () => /城南社区第一网格/.test(await byTestId(page, 'm-public-grid').textContent()), 'the grid name')
          await fillTestId(page, 'm-public-description', description)
          await page.locator('[data-testid="m-public-photos-input"]').setInputFiles(photos.before)
          await page.locator('[data-testid="m-photo"][data-status="done"]').waitFor({ state: 'visible' })
          await fillTestId(page, 'm-public-address', '城南小区3号楼门口')
          await byTestId(page, 'm-public-submit').click()
          await page.waitForURL(/\/m\/receipt\/[2-9A-Z]{12}/)
          tracking = (await byTestId(page, 'm-receipt-code').textContent()).trim()
          assert.match(tracking, /^[2-9A-Z]{12}$/)
          await until(async () => (await byTestId(page, 'm-receipt-number').textContent()).trim(), 'the number')
          number = (await byTestId(page, 'm-receipt-number').textContent()).trim()
          assert.match(number, /^\d{8}-/)

          // the receipt leads to the tracking page: reported, with the photo
          await byTestId(page, 'm-receipt-track').click()
          await page.waitForURL(new RegExp(`/m/track/${tracking}$`))
          await page.locator('[data-testid="m-track-state"][data-state="reported"]').waitFor({ state: 'visible' })
          assert.equal(await page.locator('[data-testid="m-track-step"][data-action="submit"]').count(), 1)
          await imageLoaded(byTestId(page, 'm-track-photo'))

          // the grid page remembers the report on this phone
          await page.goto(`${base}/m/grid/${GRID}`)
          await page.locator(`[data-testid="m-my-report"][data-code="${tracking}"]`).waitFor({ state: 'visible' })
        },
        { mobile: true },
      )

      // ── the grid worker sees it to handle and escalates it with a reason ──
      let caseId
      await withPage(
        server,
        'worker-escalate',
        async (page, { base }) => {
          await loginMobile(page, base, 'worker.full', DEMO_PASSWORD)
          await openFromList(page, 'to_handle', number)
          caseId = Number(page.url().match(/\/cases\/(\d+)$/)[1])
          await state(page, 'reported')
          assert.match(await byTestId(page, 'm-case-description').textContent(), /垃圾堆了三天/)
          await imageLoaded(byTestId(page, 'm-case-photo'))
          // an escalation needs a reason: without one nothing is sent
          await byTestId(page, 'm-case-action-escalate').click()
          await byTestId(page, 'm-action-submit').click()
          await page.locator('.van-toast', { hasText: '请填写原因' }).waitFor({ state: 'visible' })
          await page.locator('.van-popup__close-icon >> visible=true').click()
          await page.locator('[data-testid="m-action-popup"]').waitFor({ state: 'detached' })
          await mobileStep(page, 'escalate', { note: '需城管执法，网格无法处置' })
          await page.locator(`[data-testid="m-case-handling"][data-code="${VILLAGE}"]`).waitFor({ state: 'visible' })
          // at village level the grid may no longer escalate or accept
          assert.equal(await byTestId(page, 'm-case-action-escalate').count(), 0)
        },
        { mobile: true },
      )

      // ── the village centre escalates it to the town (phone, "本级待办") ──
      await withPage(
        server,
        'village-escalate',
        async (page, { base }) => {
          await loginMobile(page, base, 'operator.village', DEMO_PASSWORD)
          await openFromList(page, 'centre', number)
          await mobileStep(page, 'escalate', { note: '需街道协调执法力量' })
          await page.locator(`[data-testid="m-case-handling"][data-code="${TOWN}"]`).waitFor({ state: 'visible' })
        },
        { mobile: true },
      )

      // ── the town centre accepts, files and dispatches it on the PC ──
      await withPage(server, 'town-pc', async (page, { base }) => {
        await loginPc(page, base, 'operator.town', DEMO_PASSWORD)
        await page.goto(`${base}/cases/${caseId}`)
        const pcState = (s) => page.locator(`[data-testid="case-state"][data-state="${s}"]`).waitFor({ state: 'visible' })
        const dialogSubmit = page.locator('[data-testid="action-dialog-submit"] >> visible=true')
        await pcState('reported')
        // accept, deciding the category
        await byTestId(page, 'case-action-accept').click()
        await page.locator('[data-testid="action-dialog"] >> visible=true').waitFor()
        await byTestId(page, 'action-dialog-category').click()
        await page.keyboard.type(CATEGORY.name)
        await page
          .locator('.el-tree-node__content >> visible=true')
          .filter({ hasText: CATEGORY.name })
          .first()
          .click()
        await dialogSubmit.click()
        await pcState('accepted')
        assert.match(await byTestId(page, 'case-category').textContent(), new RegExp(CATEGORY.name))
        // file
        await byTestId(page, 'case-action-file').click()
        await dialogSubmit.click()
        await pcState('filed')
        // dispatch to the county's urban management bureau
        await byTestId(page, 'case-action-dispatch').click()
        await page.locator('[data-testid="dispatch-dialog"] >> visible=true').waitFor()
        await page.locator(`[data-testid="dispatch-dept-${DEPT.code}"]`).click()
        await dialogSubmit.click()
        await pcState('dispatched')
        await page.locator(`[data-testid="case-assignment-${DEPT.code}"][data-status="dispatched"]`).waitFor({ state: 'visible' })
      })

      // ── the department accepts it and reports the result with a photo (phone) ──
      await withPage(
        server,
        'department',
        async (page, { base }) => {
          await loginMobile(page, base, 'dept.handler', DEMO_PASSWORD)
          // the dispatch reached the department's staff as a message that opens the case
          await page.goto(`${base}/m/notifications`)
          const note = page.locator('[data-testid="m-notif-item"][data-kind="dispatched"]').first()
          await note.waitFor({ state: 'visible' })
          await note.click()
          await page.waitForURL(new RegExp(`/m/cases/${caseId}$`))
          await page.goto(`${base}/m/`)
          await openFromList(page, 'to_handle', number)
          await state(page, 'dispatched')
          await mobileStep(page, 'dept_accept', { expect: 'in_handling' })
          await mobileStep(page, 'report_result', { note: '已清运垃圾并消杀', photo: photos.after, expect: 'handled' })
          await page.locator('[data-testid="m-case-assignment"][data-status="handled"]').waitFor({ state: 'visible' })
          // the photo is in the timeline
          const step = page.locator('[data-testid="m-timeline-item"][data-action="report_result"]')
          await imageLoaded(step.locator('img').first())
        },
        { mobile: true },
      )

      // ── the grid worker checks on site and passes it (phone, "待核查") ──
      await withPage(
        server,
        'worker-check',
        async (page, { base }) => {
          await loginMobile(page, base, 'worker.full', DEMO_PASSWORD)
          await openFromList(page, 'to_check', number)
          await mobileStep(page, 'start_check', { expect: 'in_check' })
          await mobileStep(page, 'check_pass', { note: '现场已清理干净', expect: 'closed' })
        },
        { mobile: true },
      )

      // ── the resident types the code on the grid page, follows it and rates it ──
      await withPage(
        server,
        'resident-rate',
        async (page, { base }) => {
          await page.goto(`${base}/m/grid/${GRID}`)
          await byTestId(page, 'm-grid-name').waitFor({ state: 'visible' })
          await fillTestId(page, 'm-grid-track-input', tracking.toLowerCase())
          await byTestId(page, 'm-grid-track').click()
          await page.waitForURL(new RegExp(`/m/track/${tracking}$`))
          await page.locator('[data-testid="m-track-state"][data-state="closed"]').waitFor({ state: 'visible' })
          // the result and its photo are shown; staff names are not
          const result = page.locator('[data-testid="m-track-step"][data-action="report_result"]')
          assert.match(await result.textContent(), /已清运垃圾并消杀/)
          await imageLoaded(result.locator('[data-testid="m-track-step-photo"]'))
          const text = await byTestId(page, 'm-track').textContent()
          assert.ok(!/赵强|刘洋|李敏/.test(text), 'no staff names on the public page')
          await byTestId(page, 'm-rate-form').waitFor({ state: 'visible' })
          await byTestId(page, 'm-rate-satisfied').click()
          await fillTestId(page, 'm-rate-comment', '处理及时，谢谢')
          await byTestId(page, 'm-rate-submit').click()
          await page.locator('[data-testid="m-track-state"][data-state="rated"]').waitFor({ state: 'visible' })
          await page.locator('[data-testid="m-track-rating"][data-rating="satisfied"]').waitFor({ state: 'visible' })
          assert.equal(await byTestId(page, 'm-rate-form').count(), 0, 'rated once only')
          // the grid page discloses the closed case
          await page.goto(`${base}/m/grid/${GRID}`)
          await page.locator(`[data-testid="m-disclosed-item"][data-number="${number}"]`).waitFor({ state: 'visible' })
        },
        { mobile: true },
      )

      // ── the final state, and a timeline with every step ──
      const expected = [
        'submit',
        'escalate',
        'escalate',
        'accept',
        'file',
        'dispatch',
        'dept_accept',
        'report_result',
        'start_check',
        'check_pass',
        'rate',
      ]
      const town = await apiSession(server.baseUrl, 'operator.town', DEMO_PASSWORD)
      const r = await town('GET', `/api/v1/cases/${caseId}`)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      assert.equal(r.body.state, 'rated')
      assert.equal(r.body.rating, 'satisfied')
      assert.equal(r.body.category, CATEGORY.code)
      assert.deepEqual(
        r.body.events.map((e) => e.action),
        expected,
      )
      assert.equal(r.body.events.find((e) => e.action === 'report_result').media.length, 1)
      await withPage(
        server,
        'worker-timeline',
        async (page, { base }) => {
          await loginMobile(page, base, 'worker.full', DEMO_PASSWORD)
          await page.goto(`${base}/m/cases/${caseId}`)
          await state(page, 'rated')
          const actions = await page
            .locator('[data-testid="m-timeline-item"]')
            .evaluateAll((els) => els.map((e) => e.getAttribute('data-action')))
          assert.deepEqual(actions.reverse(), expected)
          assert.match(await byTestId(page, 'm-case-timeline').textContent(), /需城管执法，网格无法处置/)
          assert.equal(await byTestId(page, 'm-case-no-actions').count(), 1)
        },
        { mobile: true },
      )
    })

    test('offline outbox: a report made offline is sent once on reconnect; a lost answer is retried with the same client id', { timeout: TEST_TIMEOUT }, async () => {
      const where = await pointInGrid(admin)
      const worker = await apiSession(server.baseUrl, 'worker.full', DEMO_PASSWORD)
      const byText = async (q) => {
        const r = await worker('GET', `/api/v1/cases?view=reported&q=${encodeURIComponent(q)}`)
        assert.equal(r.status, 200, JSON.stringify(r.body))
        return r.body
      }
      const offlineText = `楼道堆放杂物堵塞消防通道，离线上报（e2e ${backend.name}）`
      const lostText = `路边绿化带垃圾已现场清理，应答丢失重发（e2e ${backend.name}）`

      await withPage(
        server,
        'outbox',
        async (page, { base, context }) => {
          await context.grantPermissions(['geolocation'], { origin: base })
          await context.setGeolocation(where)
          await loginMobile(page, base, 'worker.full', DEMO_PASSWORD)
          await byTestId(page, 'm-tab-cases').click()
          await byTestId(page, 'm-case-new').click()
          await page.waitForURL(/\/m\/cases\/new$/)
          await page.locator('[data-testid="m-report-location"][data-state="located"]').waitFor({ state: 'visible' })
          const clientId = await byTestId(page, 'm-report-form').getAttribute('data-client-id')
          assert.match(clientId, /^[0-9a-f-]{36}$/)
          await fillTestId(page, 'm-report-description', offlineText)
          // the category suggested from the words, chosen with a tap
          const chip = page.locator('[data-testid="m-suggest-item"]').first()
          await chip.waitFor({ state: 'visible' })
          const suggested = await chip.getAttribute('data-code')
          await chip.click()
          await page.locator(`[data-testid="m-report-category"][data-code="${suggested}"]`).waitFor({ state: 'attached' })

          // the network goes; the photo and the report stay on the phone
          await context.setOffline(true)
          await page.locator('[data-testid="m-report-photos-input"]').setInputFiles(photos.offline)
          await page.locator('[data-testid="m-photo"][data-status="offline"]').waitFor({ state: 'visible' })
          await byTestId(page, 'm-report-submit').click()
          await page.waitForURL(/\/m\/cases\?view=reported/)
          await page.locator('[data-testid="m-outbox"][data-count="1"]').waitFor({ state: 'visible' })
          await page.locator(`[data-testid="m-outbox-item"][data-client-id="${clientId}"]`).waitFor({ state: 'visible' })
          const badge = await byTestId(page, 'm-tab-cases').textContent()
          assert.match(badge, /1/, 'the tab shows the pending count')
          assert.equal((await byText('离线上报')).total, 0, 'nothing reached the server yet')

          // back online: sent by itself, once, with the photo uploaded first
          await context.setOffline(false)
          await byTestId(page, 'm-outbox').waitFor({ state: 'detached', timeout: 20_000 })
          const sent = await until(async () => {
            const b = await byText('离线上报')
            return b.total === 1 ? b.items[0] : null
          }, 'the offline report on the server')
          assert.equal(sent.client_id, clientId)
          assert.equal(sent.category, suggested)
          assert.equal(sent.media.length, 1)
          assert.ok(Math.abs(sent.lat - where.latitude) < 1e-6 && Math.abs(sent.lng - where.longitude) < 1e-6)
          assert.ok(sent.unit_code.startsWith(GRID), sent.unit_code)
          await page.locator(`[data-testid="m-case-list-reported"] [data-testid="m-case-item"][data-number="${sent.number}"]`).waitFor({ state: 'visible' })
          // a second reconnect sends nothing again
          await context.setOffline(true)
          await context.setOffline(false)
          await page.waitForTimeout(1500)
          assert.equal((await byText('离线上报')).total, 1)

          // handled on the spot; the server makes the case but its answer is lost on the way
          await byTestId(page, 'm-case-new').click()
          await page.waitForURL(/\/m\/cases\/new$/)
          const clientId2 = await byTestId(page, 'm-report-form').getAttribute('data-client-id')
          assert.notEqual(clientId2, clientId, 'a new draft, a new client id')
          await fillTestId(page, 'm-report-description', lostText)
          await byTestId(page, 'm-report-onspot').click()
          await fillTestId(page, 'm-report-onspot-note', '已现场清理')
          await page.locator('[data-testid="m-report-location"][data-state="located"]').waitFor({ state: 'visible' })
          let reached = null
          await page.route(
            '**/api/v1/cases',
            async (route) => {
              if (route.request().method() !== 'POST') return route.continue()
              const res = await route.fetch()
              reached = res.status()
              await route.abort('connectionreset')
            },
            { times: 1 },
          )
          await byTestId(page, 'm-report-submit').click()
          await page.waitForURL(/\/m\/cases\?view=reported/)
          assert.equal(reached, 201, 'the server made the case')
          await page.locator(`[data-testid="m-outbox-item"][data-client-id="${clientId2}"]`).waitFor({ state: 'visible' })
          await page.unrouteAll()
          await byTestId(page, 'm-outbox-send').click()
          await byTestId(page, 'm-outbox').waitFor({ state: 'detached' })
          const lost = await byText('应答丢失重发')
          assert.equal(lost.total, 1, 'the retry returned the same case, no duplicate')
          assert.equal(lost.items[0].client_id, clientId2)
          assert.equal(lost.items[0].state, 'in_check', 'handled on the spot goes straight to the check')
        },
        { mobile: true },
      )

      // the same client id once more, straight to the API: still the same case (200, not 201)
      const lost = (await byText('应答丢失重发')).items[0]
      const again = await worker('POST', '/api/v1/cases', { client_id: lost.client_id, unit_code: lost.unit_code, description: lostText })
      assert.equal(again.status, 200, JSON.stringify(again.body))
      assert.equal(again.body.id, lost.id)
    })
  })
}
