import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { listen, type TestContext } from '../helper.ts'

const MB = 1024 * 1024
const TOTAL = 50 * MB
const CHUNK = Buffer.alloc(64 * 1024, 'x')

/** Yields `total` bytes in 64 KiB chunks without ever holding more than one; counts what it produced. */
function generate (total: number, counter?: { produced: number }): Readable {
  let sent = 0
  return new Readable({
    read () {
      if (sent >= total) return this.push(null)
      const n = Math.min(CHUNK.length, total - sent)
      sent += n
      if (counter) counter.produced = sent
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))
    }
  })
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300))
const PAUSE_AFTER = 5 * MB
// A proxy that buffered the body whole would let the sender finish all 50 MB while the receiver
// is paused. What a streaming proxy lets through is what the kernel's socket buffers (auto-tuned,
// ~10 MB measured here on loopback) and the streams' high-water marks hold.
const IN_FLIGHT_BOUND = 40 * MB

/**
 * An origin for big transfers. /download streams 50 MB and counts what it managed to write;
 * /upload-slow pauses reading after PAUSE_AFTER bytes until `resumeUpload()`.
 */
async function bigUpstream (t: TestContext) {
  const download = { produced: 0 }
  const received: number[] = []
  let uploadRead = 0
  let release: () => void = () => {}
  const server = http.createServer((req, res) => {
    if (req.url === '/download') {
      res.setHeader('content-type', 'application/octet-stream')
      generate(TOTAL, download).pipe(res)
      return
    }
    let bytes = 0
    let paused = false
    req.on('data', (c: Buffer) => {
      bytes += c.length
      uploadRead = bytes
      if (req.url === '/upload-slow' && !paused && bytes >= PAUSE_AFTER) {
        paused = true
        req.pause()
        release = () => req.resume()
      }
    })
    req.on('end', () => {
      received.push(bytes)
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ bytes, transferEncoding: req.headers['transfer-encoding'] ?? null, contentLength: req.headers['content-length'] ?? null }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, download, uploadRead: () => uploadRead, resumeUpload: () => release() }
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

t.test('a 50 MB download streams with backpressure: a paused client holds the upstream back', async (t) => {
  const upstream = await bigUpstream(t)
  const { url } = await listen(t, { config: { services: { big: { url: upstream.url } }, routes: [{ path: '/download', service: 'big', methods: ['GET'] }] } })
  const res = await new Promise<{ status: number, bytes: number }>((resolve, reject) => {
    http.get(url + '/download', (res) => {
      let bytes = 0
      let paused = false
      res.on('data', (c: Buffer) => {
        bytes += c.length
        if (!paused && bytes >= PAUSE_AFTER) {
          paused = true
          res.pause()
          settle().then(() => {
            t.ok(upstream.download.produced < IN_FLIGHT_BOUND, `with the client paused at 5 MB the upstream could write only ${(upstream.download.produced / MB).toFixed(1)} MB`)
            res.resume()
          }, reject)
        }
      })
      res.on('end', () => resolve({ status: res.statusCode!, bytes }))
    }).on('error', reject)
  })
  t.equal(res.status, 200)
  t.equal(res.bytes, TOTAL, 'every byte arrives')
})

t.test('a 50 MB upload streams with backpressure: a paused upstream holds the client back', async (t) => {
  const upstream = await bigUpstream(t)
  const { url } = await listen(t, { config: { services: { big: { url: upstream.url } }, routes: [{ path: '/upload-slow', service: 'big', methods: ['POST'], bodyLimit: '100mb' }] } })
  const client = { produced: 0 }
  const response = request(url + '/upload-slow', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(TOTAL) } }, generate(TOTAL, client))
  while (upstream.uploadRead() < PAUSE_AFTER) await new Promise((resolve) => setTimeout(resolve, 20))
  await settle()
  t.ok(client.produced < IN_FLIGHT_BOUND, `with the upstream paused at 5 MB the client could send only ${(client.produced / MB).toFixed(1)} MB`)
  upstream.resumeUpload()
  const res = await response
  t.equal(res.status, 200)
  t.same(JSON.parse(res.text), { bytes: TOTAL, transferEncoding: null, contentLength: String(TOTAL) })
})

t.test('a chunked upload streams too', async (t) => {
  const upstream = await bigUpstream(t)
  const { url } = await listen(t, { config: { services: { big: { url: upstream.url } }, routes: [{ path: '/upload', service: 'big', methods: ['PUT'], bodyLimit: '100mb' }] } })
  const chunked = await request(url + '/upload', { method: 'PUT', headers: { 'content-type': 'application/octet-stream' } }, generate(5 * MB))
  t.equal(chunked.status, 200)
  t.equal(JSON.parse(chunked.text).bytes, 5 * MB)
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
