// End-to-end test of the external systems page (外部系统) against the real `wangge demo` server in
// headless Chromium:
//   the administrator registers a system for 黎城街道 with a webhook and an ingest rule — a rule
//   the server refuses is shown in the form first — and reads its secrets from the show-once dialog;
//   the system reports a case through Open311 (from Node, with the API key);
//   the webhook (a small Node server) first fails: with `webhook_attempts = 1` the delivery becomes a
//   dead letter, shown with the dead-letters switch; the webhook then recovers, "resend" is clicked
//   and the delivery is shown delivered; every delivery carries a timestamp and a signature that
//   verifies with the webhook secret shown once;
//   the rules are reordered in the edit dialog; the API key is regenerated after a confirmation and
//   the old key stops working at once; a town operator sees neither the menu entry nor the page.
// Run: WANGGE_BIN=/path/to/wangge npm run e2e -- e2e/external.test.mjs   (see harness.mjs)

import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import { after, before, describe, test } from 'node:test'
import { apiSession, backends, byTestId, DEMO_PASSWORD, fillTestId, inputValue, loginPc, startServer, until, withPage } from './harness.mjs'

const TEST_TIMEOUT = 240_000
const GRID = '320831001001001' // 城南社区第一网格, in 黎城街道
const TOWN = { code: '320831001', name: '黎城街道' }
const CATEGORY = 'G0401' // 暴露垃圾: a leaf without required questions
const RULE_CATEGORY = 'G0401'
const SYSTEM = { name: 'e2e-hotline', title: '12345 热线（e2e）' }
// one failed attempt is enough to make a dead letter
const CONFIG = '[external]\nwebhook_attempts = 1\n'

/** A webhook receiver: answers `status.code`, keeps every request with its raw body. */
async function startReceiver() {
  const received = []
  const status = { code: 500 }
  const srv = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: status.code })
      res.writeHead(status.code, { 'Content-Type': 'text/plain' })
      res.end(status.code === 200 ? 'ok' : 'receiver down')
    })
  })
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${srv.address().port}/hook`
  return { url, received, status, close: () => new Promise((resolve) => srv.close(resolve)) }
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
  return { lat, lng }
}

/** POST /open311/v2/requests.json, form-encoded as Open311 clients send it. */
async function open311Request(base, apiKey, where, description) {
  const res = await fetch(`${base}/open311/v2/requests.json`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      api_key: apiKey,
      service_code: CATEGORY,
      lat: String(where.lat),
      long: String(where.lng),
      description,
    }).toString(),
  })
  const text = await res.text()
  let body = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON
  }
  return { status: res.status, body }
}

/** Picks an option of an el-select given by data-testid, typing `text` to filter (remote or not). */
async function pick(page, testid, text, optionTestId) {
  const sel = byTestId(page, testid)
  await sel.click()
  if (text) await sel.locator('input').first().fill(text)
  await page.locator(`[data-testid="${optionTestId}"]`).click()
}

const signatureOf = (secret, ts, body) => `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`

for (const backend of backends()) {
  describe(`external systems on ${backend.name}`, { timeout: 10 * 60_000 }, () => {
    let server
    let receiver
    let admin
    before(async () => {
      receiver = await startReceiver()
      server = await startServer(backend, { config: CONFIG })
      admin = await apiSession(server.baseUrl, 'admin', server.adminPassword)
    }, { timeout: 120_000 })
    after(async () => {
      await server?.stop()
      await receiver?.close()
    })

    test('register a system, report through Open311, dead letter and resend of a signed webhook, rules, key rotation', { timeout: TEST_TIMEOUT }, async () => {
      const where = await pointInGrid(admin)
      await withPage(server, 'external', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        await byTestId(page, 'nav-external-systems').click()
        await page.waitForURL(/\/external-systems$/)
        await byTestId(page, 'external-page').waitFor({ state: 'visible' })

        // ── the new system: a rule the server refuses is shown in the form ──
        await byTestId(page, 'external-create').click()
        const dialog = page.locator('[data-testid="system-dialog"] >> visible=true')
        await dialog.waitFor()
        await fillTestId(page, 'system-name', SYSTEM.name)
        await fillTestId(page, 'system-title', SYSTEM.title)
        await pick(page, 'system-unit', TOWN.name, `system-unit-option-${TOWN.code}`)
        await fillTestId(page, 'system-webhook-url', receiver.url)
        await byTestId(page, 'rule-add').click()
        await fillTestId(page, 'rule-field-0', 'data.level')
        await pick(page, 'rule-op-0', null, 'rule-op-0-option-gte')
        await fillTestId(page, 'rule-value-0', 'abc')
        await pick(page, 'rule-category-0', RULE_CATEGORY, `rule-category-0-option-${RULE_CATEGORY}`)
        await byTestId(page, 'rule-urgent-0').click()
        await byTestId(page, 'system-submit').click()
        const problem = page.locator('[data-testid="system-form-error"][data-code="validation_failed"][data-field="rules"]')
        await problem.waitFor({ state: 'visible' })
        assert.match(await problem.textContent(), /识别规则/, 'the refused field is named in Chinese')
        assert.match(await dialog.locator('.el-form-item__error').first().textContent(), /识别规则/)
        assert.equal((await admin('GET', '/api/v1/external-systems')).body.items.length, 0, 'nothing was created')

        // fixed, it is created and its secrets are shown once
        await fillTestId(page, 'rule-value-0', '3')
        await byTestId(page, 'system-submit').click()
        const secretsDialog = page.locator('[data-testid="secrets-dialog"] >> visible=true')
        await secretsDialog.waitFor()
        await byTestId(page, 'secrets-once-warning').waitFor({ state: 'visible' })
        assert.match(await byTestId(page, 'secrets-once-warning').textContent(), /只显示这一次/)
        const apiKey = await inputValue(page, 'secret-api_key')
        const webhookSecret = await inputValue(page, 'secret-webhook_secret')
        const ingestSecret = await inputValue(page, 'secret-ingest_secret')
        assert.ok(apiKey.length >= 16 && webhookSecret.length >= 16 && ingestSecret.length >= 16, 'three secrets')
        assert.equal(new Set([apiKey, webhookSecret, ingestSecret]).size, 3, 'distinct secrets')
        await byTestId(page, 'secrets-close').click()
        await secretsDialog.waitFor({ state: 'detached' }).catch(() => secretsDialog.waitFor({ state: 'hidden' }))
        assert.equal(await page.locator(`[data-testid="secret-api_key"] input`).count(), 0, 'the secrets are gone from the page')

        await byTestId(page, `system-row-${SYSTEM.name}`).waitFor({ state: 'visible' })
        const prefix = (await byTestId(page, `system-key-prefix-${SYSTEM.name}`).textContent()).replace('…', '').trim()
        assert.ok(prefix && apiKey.startsWith(prefix), `the key prefix ${prefix} starts the key`)
        assert.equal((await byTestId(page, `system-webhook-${SYSTEM.name}`).textContent()).trim(), receiver.url)
        const listed = (await admin('GET', '/api/v1/external-systems')).body.items
        assert.equal(listed.length, 1)
        const system = listed[0]
        assert.equal(system.unit_code, TOWN.code)
        assert.deepEqual(system.rules, [{ field: 'data.level', op: 'gte', value: '3', category: RULE_CATEGORY, urgent: true }])
        assert.deepEqual([...system.webhook_events].sort(), ['case.created', 'case.state_changed'])
        assert.ok(!JSON.stringify(listed).includes(apiKey), 'the list never shows the key')

        // the endpoints and the signing scheme
        await byTestId(page, `system-details-${SYSTEM.name}`).click()
        await byTestId(page, 'system-drawer').waitFor({ state: 'visible' })
        assert.equal((await byTestId(page, 'endpoint-open311').textContent()).trim(), `${base}/open311/v2/`)
        assert.equal((await byTestId(page, 'endpoint-ingest').textContent()).trim(), `${base}/api/v1/ingest/${SYSTEM.name}`)
        const signing = await byTestId(page, 'endpoint-signing').textContent()
        assert.match(signing, /X-Wangge-Timestamp/)
        assert.match(signing, /X-Wangge-Signature: sha256=/)

        // ── the system reports a case through Open311 ──
        const reported = await open311Request(base, apiKey, where, `路灯不亮，Open311 上报（e2e ${backend.name}）`)
        assert.equal(reported.status, 200, JSON.stringify(reported.body))
        assert.ok(Array.isArray(reported.body) && reported.body.length === 1, JSON.stringify(reported.body))
        const requestId = String(reported.body[0].service_request_id ?? '')
        assert.ok(requestId, JSON.stringify(reported.body))

        // ── the webhook answers 500: one attempt, then a dead letter ──
        await byTestId(page, 'deliveries-dead-only').click()
        const deadRow = page.locator('[data-testid^="delivery-row-"][data-state="dead"][data-event="case.created"]').first()
        await deadRow.waitFor({ state: 'visible', timeout: 30_000 })
        const deliveryId = (await deadRow.getAttribute('data-testid')).replace('delivery-row-', '')
        const caseNumber = await deadRow.getAttribute('data-case')
        assert.ok(caseNumber, 'the case number is shown')
        assert.ok(requestId === caseNumber || /^\d+$/.test(requestId), `service_request_id ${requestId}`)
        assert.ok(receiver.received.length >= 1, 'the webhook was tried')
        assert.equal(receiver.received[0].answered, 500)
        const tried = receiver.received.length
        await page.locator(`[data-testid="delivery-state-${deliveryId}"][data-state="dead"]`).waitFor({ state: 'visible' })
        // only dead letters are listed
        const states = await page.locator('[data-testid^="delivery-row-"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))
        assert.ok(states.length >= 1 && states.every((s) => s === 'dead'), JSON.stringify(states))

        // ── the webhook recovers; resend, and it is delivered ──
        receiver.status.code = 200
        await byTestId(page, `delivery-resend-${deliveryId}`).click()
        await page.locator('.el-message--success').first().waitFor({ state: 'visible' })
        await byTestId(page, 'deliveries-dead-only').click()
        await page
          .locator(`[data-testid="delivery-row-${deliveryId}"][data-state="delivered"]`)
          .waitFor({ state: 'visible', timeout: 30_000 })
        await page.locator(`[data-testid="delivery-state-${deliveryId}"][data-state="delivered"]`).waitFor({ state: 'visible' })
        assert.equal(await byTestId(page, `delivery-resend-${deliveryId}`).count(), 0, 'no resend on a delivered row')
        assert.ok(receiver.received.length > tried, 'the webhook was called again')

        // every call carried a timestamp and a signature made with the webhook secret shown once
        const created = receiver.received.filter((r) => {
          try {
            return JSON.parse(r.body).event === 'case.created'
          } catch {
            return false
          }
        })
        assert.ok(created.length >= 2, `the created event failed once and was delivered once (${created.length})`)
        assert.ok(created.some((r) => r.answered === 200))
        for (const r of receiver.received) {
          assert.equal(r.method, 'POST')
          const ts = r.headers['x-wangge-timestamp']
          const sig = r.headers['x-wangge-signature']
          assert.match(ts ?? '', /^\d{10}$/, 'X-Wangge-Timestamp in unix seconds')
          assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 300, 'a current timestamp')
          assert.equal(sig, signatureOf(webhookSecret, ts, r.body), 'X-Wangge-Signature verifies with the webhook secret')
          assert.notEqual(sig, signatureOf(ingestSecret, ts, r.body))
        }
        const payload = JSON.parse(created.find((r) => r.answered === 200).body)
        assert.equal(payload.case.number, caseNumber)
        await page.keyboard.press('Escape')
        await byTestId(page, 'system-drawer').waitFor({ state: 'hidden' })

        // the key was used
        await byTestId(page, 'external-refresh').click()
        await until(
          async () => !/从未使用/.test(await byTestId(page, `system-last-used-${SYSTEM.name}`).textContent()),
          'the last use of the key',
        )

        // ── the rules: a second rule moved to the top ──
        await byTestId(page, `system-edit-${SYSTEM.name}`).click()
        await dialog.waitFor()
        await page.locator('[data-testid="system-rules"][data-count="1"]').waitFor({ state: 'visible' })
        assert.equal(await inputValue(page, 'rule-value-0'), '3')
        await byTestId(page, 'rule-add').click()
        await fillTestId(page, 'rule-field-1', 'type')
        await fillTestId(page, 'rule-value-1', 'smoke')
        await pick(page, 'rule-category-1', RULE_CATEGORY, `rule-category-1-option-${RULE_CATEGORY}`)
        await byTestId(page, 'rule-up-1').click()
        assert.equal(await inputValue(page, 'rule-field-0'), 'type')
        assert.equal(await inputValue(page, 'rule-field-1'), 'data.level')
        await byTestId(page, 'system-submit').click()
        await dialog.waitFor({ state: 'hidden' })
        const edited = (await admin('GET', '/api/v1/external-systems')).body.items[0]
        assert.deepEqual(
          edited.rules.map((r) => [r.field, r.op, r.value, r.urgent]),
          [
            ['type', 'eq', 'smoke', false],
            ['data.level', 'gte', '3', true],
          ],
        )
        assert.equal(edited.webhook_url, receiver.url, 'the rest is kept')

        // ── a new API key: confirmed first, shown once, and the old one stops working ──
        await byTestId(page, `system-details-${SYSTEM.name}`).click()
        await byTestId(page, 'system-drawer').waitFor({ state: 'visible' })
        await byTestId(page, 'rotate-api_key').click()
        const confirm = page.locator('.external-rotate-confirm')
        await confirm.waitFor({ state: 'visible' })
        assert.match(await confirm.textContent(), /旧密钥立即失效/)
        await confirm.locator('.el-button--primary').click()
        await secretsDialog.waitFor()
        const newKey = await inputValue(page, 'secret-api_key')
        assert.equal(await page.locator('[data-testid="secret-webhook_secret"] >> visible=true').count(), 0, 'only the rotated secret')
        assert.notEqual(newKey, apiKey)
        await byTestId(page, 'secrets-close').click()
        const old = await open311Request(base, apiKey, where, `旧密钥（e2e ${backend.name}）`)
        assert.ok(old.status === 401 || old.status === 403, `the old key is refused: ${old.status} ${JSON.stringify(old.body)}`)
        const fresh = await open311Request(base, newKey, where, `新密钥上报（e2e ${backend.name}）`)
        assert.equal(fresh.status, 200, JSON.stringify(fresh.body))
      })
    })

    test('only administrators see the page', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(server, 'external-operator', async (page, { base }) => {
        await loginPc(page, base, 'operator.town', DEMO_PASSWORD)
        assert.equal(await page.locator('[data-testid="nav-external-systems"]').count(), 0)
        await page.goto(`${base}/external-systems`)
        await page.waitForURL(/\/territory$/)
        assert.equal(await page.locator('[data-testid="external-page"]').count(), 0)
      })
      const operator = await apiSession(server.baseUrl, 'operator.town', DEMO_PASSWORD)
      const r = await operator('GET', '/api/v1/external-systems')
      assert.equal(r.status, 403, JSON.stringify(r.body))
      assert.equal(r.body.code, 'forbidden')
    })
  })
}
