import t from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import { buildApp } from '../../app.ts'
import { loadConfigFile } from '../../services/config/load-config.ts'
import { exampleConfigPath, startExampleServices, EXAMPLE_PORTS } from '../../examples/services/index.ts'
import { testEnv } from '../helper.ts'

// Debian's chromium package; playwright-core never downloads a browser. `.ci/run` installs it.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
// The machine has no network: without these flags Chromium waits on connections it cannot make.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'
]
const UI_TIMEOUT_MS = 30_000

t.test('/docs in a real browser: example routes listed, "Try it out" reaches the upstream', {
  skip: existsSync(CHROMIUM) ? false : `needs Chromium at ${CHROMIUM} (apt-get install chromium, as .ci/run does)`
}, async (t) => {
  // The bundled example stack on random ports, the example config pointed at them.
  const ports = Object.fromEntries(Object.keys(EXAMPLE_PORTS).map(name => [name, 0]))
  const examples = await startExampleServices(ports)
  t.teardown(() => examples.close())
  const config = loadConfigFile(exampleConfigPath)
  for (const [name, service] of Object.entries(config.services)) {
    t.ok(examples.urls[name], `example service ${name} started`)
    service.url = examples.urls[name]
    service.urls = [examples.urls[name]]
  }
  const app = await buildApp({ env: testEnv(), config, logger: false })
  t.teardown(() => app.close())
  const url = await app.listen({ host: '127.0.0.1', port: 0 })

  // A fresh profile each run (playwright passes it to Chromium as --user-data-dir).
  const userDataDir = mkdtempSync(join(tmpdir(), 'portico-chromium-'))
  let browser: BrowserContext | undefined
  t.teardown(async () => {
    await browser?.close()
    rmSync(userDataDir, { recursive: true, force: true })
  })
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000
  })
  const page = browser.pages()[0] ?? await browser.newPage()
  page.setDefaultTimeout(UI_TIMEOUT_MS)
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))

  const response = await page.goto(`${url}/docs`)
  t.equal(response?.status(), 200, '/docs answers 200')
  await page.locator('.opblock').first().waitFor()

  // Every example route is listed, with its method; the gateway's own endpoints too.
  const listed = await page.$$eval('.opblock', blocks => blocks.map(b => {
    const method = b.querySelector('.opblock-summary-method')?.textContent ?? ''
    const path = b.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? ''
    return `${method} ${path}`
  }))
  for (const op of ['GET /api/users', 'POST /api/users', 'GET /api/users/{id}', 'DELETE /api/users/{id}',
    'GET /api/products', 'GET /api/products/{id}', 'GET /api/orders/{path}', 'POST /auth/login', 'GET /health']) {
    t.ok(listed.includes(op), `${op} is listed`)
  }

  // Expand GET /api/products, try it out, execute: the panel shows the products service's answer.
  const operation = page.locator('.opblock.opblock-get', {
    has: page.locator('.opblock-summary-path[data-path="/api/products"]')
  })
  t.equal(await operation.count(), 1, 'one GET /api/products block')
  await operation.locator('.opblock-summary').first().click()
  await operation.locator('button.try-out__btn').click()
  await operation.locator('button.execute').click()
  const body = operation.locator('.live-responses-table .response-col_description .microlight, .live-responses-table .response-col_description pre').first()
  await body.waitFor()
  await page.waitForFunction(
    (el) => (el?.textContent ?? '').includes('Keyboard'),
    await body.elementHandle(),
    { timeout: UI_TIMEOUT_MS }
  ).catch(() => {})
  const text = (await body.textContent()) ?? ''
  t.match(text, /Keyboard/, 'the response panel shows the upstream answer')
  t.match(text, /Monitor/)
  const status = await operation.locator('.live-responses-table .response .response-col_status').first().textContent()
  t.match(status?.trim(), /^200\b/, 'the response panel shows status 200')
  const shot = join(tmpdir(), 'portico-docs-browser.png')
  await page.screenshot({ path: shot, fullPage: true })
  t.comment(`screenshot: ${shot}`)
  t.same(pageErrors, [], 'no script errors in the page')
})
