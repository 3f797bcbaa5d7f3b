// Every API error code listed in docs/api.md has a Chinese and an English message in the web app.
// (No server or browser needed.)
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

const root = new URL('../', import.meta.url)
const apiDoc = readFileSync(new URL('../docs/api.md', root), 'utf8')

function documentedCodes() {
  const codes = [...apiDoc.matchAll(/^\| `([a-z_]+)` \| \d{3} \|/gm)].map((m) => m[1])
  assert.ok(codes.length >= 20, `expected the error code table in docs/api.md, found ${codes.length} codes`)
  return codes
}

function errorMessages(file) {
  const src = readFileSync(new URL(`src/shared/locales/${file}`, root), 'utf8')
  const start = src.indexOf('\n  errors: {')
  assert.ok(start >= 0, `${file} has an errors block`)
  const end = src.indexOf('\n  },', start)
  const block = src.slice(start, end)
  const map = new Map()
  for (const m of block.matchAll(/^ {4}([a-z_]+): (['"])(.*)\2,$/gm)) map.set(m[1], m[3])
  return map
}

for (const file of ['zh-CN.ts', 'en.ts']) {
  test(`every documented error code has a message in ${file}`, () => {
    const messages = errorMessages(file)
    const missing = documentedCodes().filter((c) => !messages.get(c)?.trim())
    assert.deepEqual(missing, [], `missing in ${file}: ${missing.join(', ')}`)
  })
}

test('the Chinese messages are Chinese and differ from the English ones', () => {
  const zh = errorMessages('zh-CN.ts')
  const en = errorMessages('en.ts')
  for (const code of documentedCodes()) {
    assert.match(zh.get(code), /[\u4e00-\u9fff]/, `zh message of ${code}`)
    assert.notEqual(zh.get(code), en.get(code), `zh and en of ${code}`)
  }
})

// vue-i18n gives `@` (linked messages) and `|` (plural forms) a meaning: a message that uses them
// as plain text fails to compile at run time. Literal ones must be written {'@'} / {'|'}.
test('no message uses the vue-i18n special characters @ or | as plain text', () => {
  for (const file of ['zh-CN.ts', 'en.ts']) {
    const src = readFileSync(new URL(`src/shared/locales/${file}`, root), 'utf8')
    const bad = [...src.matchAll(/^ +([A-Za-z_]+): (['"])(.*)\2,$/gm)]
      .filter((m) => /[@|]/.test(m[3].replace(/\{'[@|]'\}/g, '')))
      .map((m) => m[1])
    assert.deepEqual(bad, [], `${file}: ${bad.join(', ')}`)
  }
})
