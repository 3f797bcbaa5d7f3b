// End-to-end tests of the web app against the real `wangge demo` server in headless Chromium.
// Run: WANGGE_BIN=/path/to/wangge npm run e2e   (see harness.mjs)

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  backends,
  byTestId,
  DEMO_PASSWORD,
  fillTestId,
  inputValue,
  loginPc,
  pageFetch,
  startServer,
  until,
  withPage,
} from './harness.mjs'

const TEST_TIMEOUT = 120_000

/** Searches in the territory page and waits for the search to finish. */
async function searchUnits(page, text) {
  await fillTestId(page, 'territory-search', text)
  await byTestId(page, 'territory-search').press('Enter')
  await until(
    async () =>
      (await page.locator('[data-testid="search-result"]').count()) > 0 ||
      (await page.locator('[data-testid="search-empty"]').isVisible()),
    `search results for ${text}`,
  )
}

async function detailCode(page) {
  return (await byTestId(page, 'detail-code').textContent())?.trim()
}

for (const backend of backends()) {
  describe(`web app on ${backend.name}`, { timeout: 15 * 60_000 }, () => {
    let server
    before(async () => {
      server = await startServer(backend)
    }, { timeout: 120_000 })
    after(async () => {
      await server?.stop()
    })

    test('admin finds 荷花社区, creates a grid below it, and sees it in the tree and the audit log', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(server, 'create-child', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        assert.match(page.url(), /\/territory$/)

        await searchUnits(page, '荷花')
        const hit = page.locator('[data-testid="search-result"][data-code="320831001003"]')
        await hit.waitFor()
        assert.match(await hit.textContent(), /荷花社区/)
        await hit.click()
        await until(async () => (await detailCode(page)) === '320831001003', 'details of 320831001003')
        assert.equal((await byTestId(page, 'detail-name').textContent()).trim(), '荷花社区')
        // the breadcrumb comes from `ancestors`
        assert.match(await byTestId(page, 'detail-breadcrumb').textContent(), /黎城街道/)

        await byTestId(page, 'btn-create-child').click()
        await byTestId(page, 'create-dialog').waitFor({ state: 'visible' })
        // the code is pre-filled with the parent code; the level defaults to the level below (grid)
        assert.equal(await inputValue(page, 'child-code'), '320831001003')
        const levelText = await byTestId(page, 'child-level').textContent()
        assert.match(levelText, /网格/)
        assert.doesNotMatch(levelText, /微网格/)

        const name = `端到端测试网格${Date.now() % 100000}`
        await fillTestId(page, 'child-code', '320831001003901')
        await fillTestId(page, 'child-name', name)
        await byTestId(page, 'child-submit').click()

        await until(async () => (await detailCode(page)) === '320831001003901', 'details of the new grid')
        assert.equal((await byTestId(page, 'detail-name').textContent()).trim(), name)
        const node = byTestId(page, 'tree-node-320831001003901')
        await node.waitFor({ state: 'visible' })
        assert.match(await node.textContent(), new RegExp(name))

        // the server really has it
        const r = await pageFetch(page, '/api/v1/units/320831001003901')
        assert.equal(r.status, 200)
        assert.equal(JSON.parse(r.text).unit.parent_code, '320831001003')

        await byTestId(page, 'nav-audit').click()
        await page.waitForURL(/\/audit$/)
        const row = page
          .locator('[data-testid="audit-table"] tr.audit-row')
          .filter({ has: page.locator('[data-testid="audit-row-action"]', { hasText: /^unit\.create$/ }) })
          .filter({ has: page.locator('[data-testid="audit-row-target"]', { hasText: '320831001003901' }) })
        await row.first().waitFor({ state: 'visible' })
        assert.match(await row.first().textContent(), /admin/)
        // the time is shown as YYYY-MM-DD HH:mm:ss
        assert.match(await row.first().locator('[data-testid="audit-time"]').textContent(), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/)
        // the expandable row shows the detail JSON
        await row.first().locator('.el-table__expand-icon').click()
        await byTestId(page, 'audit-detail').waitFor({ state: 'visible' })

        // filters: action prefix + target give exactly this entry
        const rows = page.locator('[data-testid="audit-table"] tr.audit-row')
        await fillTestId(page, 'audit-action', 'unit.cre')
        await fillTestId(page, 'audit-target', '320831001003901')
        await byTestId(page, 'audit-search').click()
        await until(async () => (await rows.count()) === 1, 'one filtered audit entry')
        // a time range in the future matches nothing
        const [start, end] = await page.locator('[data-testid="audit-range"] input').all()
        await start.fill('2099-01-01 00:00:00')
        await end.fill('2099-12-31 00:00:00')
        await end.press('Enter')
        await byTestId(page, 'audit-search').click()
        await until(async () => (await rows.count()) === 0, 'no audit entry in 2099')

        // paging: "load more" fetches the next page with before=next_before
        await byTestId(page, 'audit-reset').click()
        const first = JSON.parse((await pageFetch(page, '/api/v1/audit?limit=50')).text)
        await until(async () => (await rows.count()) === first.items.length, 'the first page')
        if (first.next_before !== null) {
          await byTestId(page, 'audit-load-more').click()
          await until(async () => (await rows.count()) > first.items.length, 'the second page')
        } else {
          assert.equal(await page.locator('[data-testid="audit-load-more"]').count(), 0)
        }
      })
    })

    test('operator.town only sees 黎城街道: no 银涂 results, one root, 404 outside, no admin pages', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(server, 'operator-scope', async (page, { base }) => {
        await loginPc(page, base, 'operator.town', DEMO_PASSWORD)

        await searchUnits(page, '银涂')
        assert.equal(await page.locator('[data-testid="search-result"]').count(), 0)
        assert.ok(await byTestId(page, 'search-empty').isVisible())

        // the same search box does find units inside the scope
        await searchUnits(page, '荷花')
        await page.locator('[data-testid="search-result"][data-code="320831001003"]').waitFor()

        const rootNodes = page.locator('[data-testid="unit-tree"] > .el-tree-node')
        await byTestId(page, 'tree-node-320831001').waitFor({ state: 'visible' })
        assert.equal(await rootNodes.count(), 1)
        assert.match(await rootNodes.first().textContent(), /黎城街道/)
        // drilling down works
        await rootNodes.first().locator('.el-tree-node__expand-icon').first().click()
        await byTestId(page, 'tree-node-320831001003').waitFor({ state: 'visible' })

        const r = await pageFetch(page, '/api/v1/units/320831100001')
        assert.equal(r.status, 404)
        assert.equal(JSON.parse(r.text).code, 'unit_not_found')

        assert.ok(await byTestId(page, 'nav-territory').isVisible())
        assert.ok(await byTestId(page, 'nav-tokens').isVisible())
        assert.equal(await page.locator('[data-testid="nav-users"]').count(), 0)
        assert.equal(await page.locator('[data-testid="nav-audit"]').count(), 0)

        // typing the address of an admin page leads back to the territory page
        await page.goto(`${base}/audit`)
        await page.waitForURL(/\/territory$/)
      })
    })

    test('a wrong password shows the translated message, and English switches the login page', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(server, 'login-i18n', async (page, { base }) => {
        await page.goto(`${base}/`)
        await page.waitForURL(/\/login/)
        assert.equal((await byTestId(page, 'login-title').textContent()).trim(), '网格化服务管理平台')
        assert.match(await byTestId(page, 'login-submit').textContent(), /登录/)

        await fillTestId(page, 'login-username', 'worker.full')
        await fillTestId(page, 'login-password', 'not-the-password')
        await byTestId(page, 'login-submit').click()
        const err = byTestId(page, 'login-error')
        await err.waitFor({ state: 'visible' })
        assert.match(await err.textContent(), /用户名或密码错误/)

        await byTestId(page, 'lang-en').click()
        await until(
          async () => (await byTestId(page, 'login-title').textContent()).trim() === 'Wangge Grid Governance Platform',
          'the English title',
        )
        assert.match(await byTestId(page, 'login-submit').textContent(), /Sign in/)
        assert.match(await err.textContent(), /Wrong username or password/)
        assert.match(await page.locator('.login-card').textContent(), /Username/)

        // the choice is kept across a reload
        await page.reload()
        await until(
          async () => (await byTestId(page, 'login-title').textContent()).trim() === 'Wangge Grid Governance Platform',
          'the English title after reload',
        )
        await byTestId(page, 'lang-zh').click()
        await until(async () => (await byTestId(page, 'login-title').textContent()).trim() === '网格化服务管理平台', 'Chinese again')
      })
    })

    test('import: a file with a bad row is rejected whole with a report; a good file imports', { timeout: TEST_TIMEOUT }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'wangge-e2e-import-'))
      const bad = join(dir, 'bad.csv')
      const good = join(dir, 'good.csv')
      writeFileSync(
        bad,
        'code,name,parent_code,level\n' +
          '320831001003951,导入测试网格一,320831001003,grid\n' +
          '320831001999952,导入测试网格二,320831001999,grid\n',
      )
      writeFileSync(
        good,
        'code,name,parent_code,level\n' +
          '320831001003951,导入测试网格一,320831001003,grid\n' +
          '320831001003952,导入测试网格二,320831001003,grid\n',
      )
      try {
        await withPage(server, 'import', async (page, { base }) => {
          await loginPc(page, base, 'admin', server.adminPassword)

          await byTestId(page, 'btn-import').click()
          await byTestId(page, 'import-dialog').waitFor({ state: 'visible' })
          await page.locator('[data-testid="import-upload"] input[type="file"]').setInputFiles(bad)
          await byTestId(page, 'import-submit').click()

          await byTestId(page, 'import-rejected').waitFor({ state: 'visible' })
          assert.match(await byTestId(page, 'import-error-count').textContent(), /1/)
          const rows = page.locator('[data-testid="import-errors"] .el-table__body tr')
          assert.equal(await rows.count(), 1)
          const rowText = await rows.first().textContent()
          assert.match(rowText, /320831001999952/)
          assert.match(rowText, /上级代码不存在/) // unknown_parent, translated
          // the spreadsheet row number of the bad line (the header is row 1)
          assert.equal((await rows.first().locator('td').first().textContent()).trim(), '3')

          const href = await byTestId(page, 'import-report-link').getAttribute('href')
          assert.match(href, /^\/api\/v1\/units\/import\/reports\/.+/)
          const report = await pageFetch(page, href)
          assert.equal(report.status, 200)
          assert.match(report.text, /320831001999952/)

          // all or nothing: the good row of the rejected file was not imported either
          assert.equal((await pageFetch(page, '/api/v1/units/320831001003951')).status, 404)

          await page.locator('[data-testid="import-upload"] input[type="file"]').setInputFiles(good)
          await byTestId(page, 'import-submit').click()
          const ok = byTestId(page, 'import-success')
          await ok.waitFor({ state: 'visible' })
          assert.match(await ok.textContent(), /2/)
          await page.keyboard.press('Escape')
          await byTestId(page, 'import-dialog').waitFor({ state: 'hidden' })

          await searchUnits(page, '导入测试网格')
          const hits = page.locator('[data-testid="search-result"]')
          await until(async () => (await hits.count()) === 2, 'two imported units in the search')
          await page.locator('[data-testid="search-result"][data-code="320831001003952"]').click()
          await until(async () => (await detailCode(page)) === '320831001003952', 'details of an imported unit')
          await byTestId(page, 'tree-node-320831001003951').waitFor({ state: 'visible' })
          await byTestId(page, 'tree-node-320831001003952').waitFor({ state: 'visible' })
        })
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

    test('mobile: the resident logs in at /m/ and sees their grant and territory', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(
        server,
        'mobile-resident',
        async (page, { base }) => {
          await page.goto(`${base}/m/`)
          await page.waitForURL(/\/m\/login/)
          await fillTestId(page, 'm-login-username', 'resident')
          await fillTestId(page, 'm-login-password', DEMO_PASSWORD)
          await byTestId(page, 'm-login-submit').click()
          await byTestId(page, 'm-user-name').waitFor({ state: 'visible' })

          const me = JSON.parse((await pageFetch(page, '/api/v1/auth/me')).text)
          const meta = JSON.parse((await pageFetch(page, '/api/v1/meta')).text)
          assert.ok(me.grants.length >= 1, 'the demo resident has a grant')
          assert.match(await byTestId(page, 'm-user-name').textContent(), new RegExp(me.user.display_name))

          const cells = page.locator('[data-testid="m-grant"]')
          assert.equal(await cells.count(), me.grants.length)
          for (const g of me.grants) {
            const cell = page.locator(`[data-testid="m-grant"][data-unit="${g.unit_code}"][data-role="${g.role}"]`)
            const text = await cell.textContent()
            const role = meta.roles.find((r) => r.key === g.role)
            assert.ok(role, `role ${g.role} is in meta`)
            assert.ok(text.includes(role.name_zh), `grant shows the role name ${role.name_zh}: ${text}`)
            assert.ok(text.includes(g.unit_name), `grant shows the unit name ${g.unit_name}: ${text}`)
          }

          // my territory: tap a root to drill down
          const root = page.locator('[data-testid="m-root-unit"]').first()
          await root.waitFor({ state: 'visible' })
          const code = await root.getAttribute('data-code')
          await root.click()
          await page.waitForURL(new RegExp(`/m/territory/${code}$`))
          await byTestId(page, 'm-unit-detail').waitFor({ state: 'visible' })
          assert.match(await byTestId(page, 'm-unit-detail').textContent(), new RegExp(code))

          // logout leads back to the login page
          await byTestId(page, 'm-tab-home').click()
          await byTestId(page, 'm-logout').click()
          await page.waitForURL(/\/m\/login/)
          assert.equal((await pageFetch(page, '/api/v1/auth/me')).status, 401)
        },
        { mobile: true },
      )
    })

    test('API tokens: shown once, work as Bearer from outside the browser, and stop working when revoked', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(server, 'tokens', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        await byTestId(page, 'nav-tokens').click()
        await page.waitForURL(/\/tokens$/)

        const name = `e2e-cli-${Date.now() % 100000}`
        await byTestId(page, 'btn-create-token').click()
        await fillTestId(page, 'token-name', name)
        await fillTestId(page, 'token-days', '30')
        await byTestId(page, 'token-submit').click()
        await byTestId(page, 'token-shown-dialog').waitFor({ state: 'visible' })
        assert.ok(await byTestId(page, 'token-once-warning').isVisible())
        const token = await inputValue(page, 'token-value')
        assert.match(token, /^wgt_/)

        const call = () => fetch(`${base}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${token}` } })
        const ok = await call()
        assert.equal(ok.status, 200)
        assert.equal((await ok.json()).user.username, 'admin')

        await byTestId(page, 'token-shown-close').click()
        await byTestId(page, 'token-shown-dialog').waitFor({ state: 'hidden' })
        // shown only once: the secret is gone from the page
        assert.ok(!(await page.content()).includes(token))

        const revoke = page.locator(`[data-testid^="token-revoke-"][data-name="${name}"]`)
        await revoke.waitFor({ state: 'visible' })
        const id = (await revoke.getAttribute('data-testid')).replace('token-revoke-', '')
        await revoke.click()
        await page.locator('.token-revoke-confirm .el-button--primary').click()
        await page.locator(`[data-testid="token-status-${id}"][data-status="revoked"]`).waitFor()

        const after = await call()
        assert.equal(after.status, 401)
      })
    })

    test('unit lifecycle: rename, a refused move shows the translated error, retire, history, show retired', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(server, 'unit-lifecycle', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        await searchUnits(page, '衡阳村')
        await page.locator('[data-testid="search-result"][data-code="320831001202"]').click()
        await until(async () => (await detailCode(page)) === '320831001202', 'details of 衡阳村')

        const code = '320831001202901'
        await byTestId(page, 'btn-create-child').click()
        await fillTestId(page, 'child-code', code)
        await fillTestId(page, 'child-name', '生命周期网格')
        await byTestId(page, 'child-submit').click()
        await until(async () => (await detailCode(page)) === code, 'the new grid')

        // rename
        await byTestId(page, 'btn-edit').click()
        await byTestId(page, 'edit-dialog').waitFor({ state: 'visible' })
        assert.equal(await inputValue(page, 'edit-name'), '生命周期网格')
        await fillTestId(page, 'edit-name', '生命周期网格（改）')
        await byTestId(page, 'edit-submit').click()
        await until(async () => (await byTestId(page, 'detail-name').textContent()).trim() === '生命周期网格（改）', 'the new name')
        await until(async () => /生命周期网格（改）/.test(await byTestId(page, `tree-node-${code}`).textContent()), 'the new name in the tree')

        // a move whose code no longer fits the new parent is refused, with the translated message
        await byTestId(page, 'btn-move').click()
        await byTestId(page, 'move-dialog').waitFor({ state: 'visible' })
        const sel = byTestId(page, 'move-parent')
        await sel.click()
        await sel.locator('input').first().fill('新港村')
        await page.locator('[data-testid="move-parent-option-320831001201"]').click()
        await byTestId(page, 'move-submit').click()
        const msg = page.locator('.el-message--error')
        await msg.first().waitFor({ state: 'visible' })
        assert.match(await msg.first().textContent(), /代码格式不符合该层级/)
        await page.keyboard.press('Escape')
        await byTestId(page, 'move-dialog').waitFor({ state: 'hidden' })
        assert.equal(JSON.parse((await pageFetch(page, `/api/v1/units/${code}`)).text).unit.parent_code, '320831001202')

        // retire
        await byTestId(page, 'btn-retire').click()
        await page.locator('.retire-confirm .el-button--primary').click()
        await until(async () => (await byTestId(page, 'detail-status').textContent()).trim() === '已撤销', 'retired status')
        assert.ok(await byTestId(page, 'btn-create-child').isDisabled())
        await byTestId(page, `tree-node-${code}`).waitFor({ state: 'detached' })

        // history: created, renamed, retired (newest or oldest first, all three are there)
        await page.locator('.el-tabs__item', { hasText: '历史' }).click()
        const hist = page.locator('[data-testid="history-table"] .el-table__body tr')
        await until(async () => (await hist.count()) === 3, 'three history entries')
        const histText = await byTestId(page, 'history-table').textContent()
        assert.match(histText, /生命周期网格（改）/)
        assert.match(histText, /admin|系统管理员/)

        // retired units come back with the toggle, greyed
        await byTestId(page, 'show-retired').click()
        await searchUnits(page, code)
        await page.locator(`[data-testid="search-result"][data-code="${code}"]`).click()
        const node = byTestId(page, `tree-node-${code}`)
        await node.waitFor({ state: 'visible' })
        assert.match(await node.getAttribute('class'), /retired/)
      })
    })

    test('users: create with the password policy, grant a unit, the grant scopes the new user; phone reveal is audited; disable', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(server, 'users', async (page, { base }) => {
        await loginPc(page, base, 'admin', server.adminPassword)
        await byTestId(page, 'nav-users').click()
        await page.waitForURL(/\/users$/)

        const username = `e2e.user${Date.now() % 100000}`
        const password = 'Gr1d#Worker'
        await byTestId(page, 'btn-create-user').click()
        await fillTestId(page, 'new-user-username', username)
        await fillTestId(page, 'new-user-display-name', '端到端用户')
        await fillTestId(page, 'new-user-phone', '13912345678')
        // a weak password is refused in the page already
        await fillTestId(page, 'new-user-password', 'short')
        await byTestId(page, 'new-user-submit').click()
        await page.locator('[data-testid="create-user-dialog"] .el-alert--error').waitFor({ state: 'visible' })
        assert.equal((await pageFetch(page, `/api/v1/users?q=${username}`)).text.includes(username), false)

        await fillTestId(page, 'new-user-password', password)
        await byTestId(page, 'new-user-submit').click()
        await byTestId(page, 'user-drawer').waitFor({ state: 'visible' })
        assert.match(await byTestId(page, 'user-phone').textContent(), /139\*+5678/)

        // reveal the phone: shown in full and audited
        await byTestId(page, 'user-phone-reveal').click()
        await until(async () => (await byTestId(page, 'user-phone').textContent()).trim() === '13912345678', 'the full phone')
        const audit = JSON.parse((await pageFetch(page, '/api/v1/audit?action=user.phone')).text)
        const userId = JSON.parse((await pageFetch(page, `/api/v1/users?q=${username}`)).text).items[0].id
        assert.ok(audit.items.some((e) => e.target_id === String(userId)), 'phone reveal is in the audit log')

        // grant: part-time grid worker at 衡阳村
        await byTestId(page, 'grant-role').click()
        await page.locator('[data-testid="grant-role-option-grid_worker_part"]').click()
        const unitSel = byTestId(page, 'grant-unit')
        await unitSel.click()
        await unitSel.locator('input').first().fill('衡阳村')
        await page.locator('[data-testid="grant-unit-option-320831001202"]').click()
        await byTestId(page, 'grant-add').click()
        const grantRow = page.locator('[data-testid="grants-table"] .el-table__body tr')
        await until(async () => (await grantRow.count()) === 1, 'one grant')
        assert.match(await grantRow.first().textContent(), /兼职网格员.*衡阳村/)

        // the new user signs in (in a browser of their own) and sees only 衡阳村, read-only
        await withPage(server, 'users-new-user', async (page2) => {
          await loginPc(page2, base, username, password)
          await byTestId(page2, 'tree-node-320831001202').waitFor({ state: 'visible' })
          assert.equal(await page2.locator('[data-testid="unit-tree"] > .el-tree-node').count(), 1)
          assert.equal(await page2.locator('[data-testid="btn-import"]').count(), 0)
        })

        // administrator password reset (the prompt checks the policy too)
        const reset = 'R3set#Passw0rd'
        await byTestId(page, 'user-reset-password').click()
        const box = page.locator('.reset-password-box')
        await box.locator('input').fill('weak')
        await box.locator('.el-button--primary').click()
        await box.locator('.el-message-box__errormsg').waitFor({ state: 'visible' })
        await box.locator('input').fill(reset)
        await box.locator('.el-button--primary').click()
        await page.locator('.el-message--success', { hasText: '密码已重置' }).first().waitFor({ state: 'visible' })
        await box.waitFor({ state: 'hidden' })
        const signIn = (pw) =>
          fetch(`${base}/api/v1/auth/login`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ username, password: pw }),
          })
        assert.equal((await signIn(reset)).status, 200)

        // remove the grant
        await grantRow.first().locator('[data-testid^="grant-remove-"]').click()
        await page.locator('.grant-remove-confirm .el-button--primary').click()
        await page.locator('.grant-remove-confirm').waitFor({ state: 'hidden' })
        await until(async () => (await grantRow.count()) === 0, 'no grant left')
        assert.equal(JSON.parse((await pageFetch(page, `/api/v1/users/${userId}/grants`)).text).items.length, 0)

        // disable: the user can no longer sign in
        await byTestId(page, 'user-drawer').waitFor({ state: 'visible' })
        await byTestId(page, 'user-toggle-disabled').click()
        await page.locator('.user-disable-confirm .el-button--primary').click()
        await until(async () => /启用/.test(await byTestId(page, 'user-toggle-disabled').textContent()), 'the enable button')
        assert.equal((await signIn(reset)).status, 401)
      })
    })

    test('change password from the user menu, with the policy checked in the page', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(server, 'change-password', async (page, { base }) => {
        await loginPc(page, base, 'volunteer', DEMO_PASSWORD)
        await byTestId(page, 'user-menu').click()
        await byTestId(page, 'menu-change-password').click()
        await fillTestId(page, 'pw-old', DEMO_PASSWORD)
        await fillTestId(page, 'pw-new', 'alllowercase')
        await fillTestId(page, 'pw-repeat', 'alllowercase')
        await byTestId(page, 'pw-submit').click()
        await byTestId(page, 'pw-problem').waitFor({ state: 'visible' })
        assert.match(await byTestId(page, 'pw-problem').textContent(), /至少 \d+ 类/)

        const next = 'Vol#2026new'
        await fillTestId(page, 'pw-new', next)
        await fillTestId(page, 'pw-repeat', next)
        await byTestId(page, 'pw-submit').click()
        await page.locator('.el-message--success').first().waitFor({ state: 'visible' })

        await byTestId(page, 'user-menu').click()
        await byTestId(page, 'menu-logout').click()
        await page.waitForURL(/\/login/)
        await fillTestId(page, 'login-username', 'volunteer')
        await fillTestId(page, 'login-password', DEMO_PASSWORD)
        await byTestId(page, 'login-submit').click()
        await until(async () => /用户名或密码错误/.test(await byTestId(page, 'login-error').textContent()), 'the old password is refused')
        await fillTestId(page, 'login-password', next)
        await byTestId(page, 'login-submit').click()
        await byTestId(page, 'side-nav').waitFor({ state: 'visible' })
      })
    })

    test('an ended session leads to the login page, and back to the page after signing in', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(server, 'session-end', async (page, { base }) => {
        await loginPc(page, base, 'leader.county', DEMO_PASSWORD)
        await byTestId(page, 'tree-node-320831').waitFor({ state: 'visible' })
        // end the session behind the app's back (as an idle expiry would)
        const me = JSON.parse((await pageFetch(page, '/api/v1/auth/me')).text)
        const out = await pageFetch(page, '/api/v1/auth/logout', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf_token } })
        assert.equal(out.status, 204)
        // the next page asks the API, gets 401 unauthenticated, and the app goes to the login page
        await byTestId(page, 'nav-tokens').click()
        await page.waitForURL(/\/login\?redirect=(%2F|\/)tokens$/)
        await fillTestId(page, 'login-username', 'leader.county')
        await fillTestId(page, 'login-password', DEMO_PASSWORD)
        await byTestId(page, 'login-submit').click()
        await page.waitForURL(/\/tokens$/)
        await byTestId(page, 'tokens-table').waitFor({ state: 'visible' })
      })
    })

    test('Swagger UI at /api/docs renders the OpenAPI description under the CSP', { timeout: TEST_TIMEOUT }, async () => {
      await withPage(server, 'api-docs', async (page, { base }) => {
        const resp = await page.goto(`${base}/api/docs`)
        assert.equal(resp.status(), 200)
        await page.locator('.swagger-ui .info .title').waitFor({ state: 'visible', timeout: 30_000 })
        await page.locator('.swagger-ui .opblock').first().waitFor({ state: 'visible' })
      })
    })
  })
}
