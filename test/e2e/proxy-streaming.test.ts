import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { listen, type TestContext } from '../helper.ts'

const MB = 1024 * 1024
const TOTAL = 50 * MB
const CHUNK = Buffer.alloc(64 * 1024, 'x')

/** Yields `total` bytes in 64 KiB chunks without ever holding more than one. */
function generate (total: number): Readable {
  let sent = 0
  return new Readable({
    read () {
      if (sent >= total) return this.push(null)
      const n = Math.min(CHUNK.length, total - sent)
      sent += n
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))
    }
  })
}

/** Samples heap + buffer memory while `run` executes; returns the peak growth in bytes. */
async function peakGrowth (run: () => Promise<void>): Promise<number> {
  global.gc?.()
  const used = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }
  const start = used()
  let peak = start
  const timer = setInterval(() => { peak = Math.max(peak, used()) }, 5)
  try {
    await run()
  } finally {
    clearInterval(timer)
  }
  return Math.max(peak, used()) - start
}

async function bigUpstream (t: TestContext) {
  const received: number[] = []
  const server = http.createServer((req, res) => {
    if (req.url === '/download') {
      res.setHeader('content-type', 'application/octet-stream')
      generate(TOTAL).pipe(res)
      return
    }
    let bytes = 0
    req.on('data', (c: Buffer) => { bytes += c.length })
    req.on('end', () => {
      received.push(bytes)
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ bytes, transferEncoding: req.headers['transfer-encoding'] ?? null, contentLength: req.headers['content-length'] ?? null }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received }
}

function request (url: string, options: http.RequestOptions, body?: Readable): Promise<{ status: number, bytes: number, text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, (res) => {
      let bytes = 0
      let text = ''
      res.on('data', (c: Buffer) => {
        bytes += c.length
        if (text.length < 1024) text += c.toString('utf8')
      })
      res.on('end', () => resolve({ status: res.statusCode!, bytes, text }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (body) body.pipe(req)
    else req.end()
  })
}

t.test('50 MB download and upload stream through without being buffered whole', async (t) => {
  const upstream = await bigUpstream(t)
  const { url } = await listen(t, {
    config: {
      services: { big: { url: upstream.url } },
      routes: [
        { path: '/download', service: 'big', methods: ['GET'] },
        { path: '/upload', service: 'big', methods: ['POST', 'PUT'], bodyLimit: '100mb' }
      ]
    }
  })

  let down: { status: number, bytes: number } | undefined
  const downGrowth = await peakGrowth(async () => { down = await request(url + '/download', {}) })
  t.equal(down!.status, 200)
  t.equal(down!.bytes, TOTAL, 'every byte arrives')
  t.ok(downGrowth < 20 * MB, `download memory growth ${(downGrowth / MB).toFixed(1)} MB stays far below 50 MB`)

  let up: { status: number, text: string } | undefined
  const upGrowth = await peakGrowth(async () => {
    up = await request(url + '/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(TOTAL) } }, generate(TOTAL))
  })
  t.equal(up!.status, 200)
  t.same(JSON.parse(up!.text), { bytes: TOTAL, transferEncoding: null, contentLength: String(TOTAL) })
  t.ok(upGrowth < 20 * MB, `upload memory growth ${(upGrowth / MB).toFixed(1)} MB stays far below 50 MB`)

  const chunked = await request(url + '/upload', { method: 'PUT', headers: { 'content-type': 'application/octet-stream' } }, generate(5 * MB))
  t.equal(chunked.status, 200)
  t.equal(JSON.parse(chunked.text).bytes, 5 * MB, 'a chunked upload streams too')
})

t.test('a chunked body past the limit gets 413 while streaming', async (t) => {
  const upstream = await bigUpstream(t)
  const { url } = await listen(t, {
    env: { BODY_LIMIT: '1mb' },
    config: { services: { big: { url: upstream.url } }, routes: [{ path: '/upload', service: 'big', methods: ['POST'] }] }
  })
  const res = await request(url + '/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, generate(3 * MB))
  t.equal(res.status, 413)
  t.equal(JSON.parse(res.text).message, 'request body is larger than 1048576 bytes')
  const declared = await request(url + '/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(3 * MB) } }, generate(3 * MB))
  t.equal(declared.status, 413)
  t.same(upstream.received.filter(b => b >= 3 * MB), [], 'the upstream never got the whole oversized body')
})
