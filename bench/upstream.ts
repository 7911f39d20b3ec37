import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { serveCpuProbe } from './cpu-probe.ts'

/**
 * The shared origin of every scenario: a plain node:http server answering any path with the same
 * ~100-byte JSON body over keep-alive. Run by bench/run.ts in a process of its own; it reports its
 * URL over IPC and its CPU time on request, so a run can show what the origin itself cost.
 */
const BODY = Buffer.from(JSON.stringify({
  id: 42, name: 'Portico benchmark', status: 'ok', tags: ['bench', 'json'], price: 19.99, active: true
}))
const HEADERS = { 'content-type': 'application/json', 'content-length': String(BODY.length) }

const server = http.createServer((req, res) => {
  // Drain any request body before answering, so POST scenarios keep the connection reusable.
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
    res.writeHead(200, HEADERS).end(BODY)
    return
  }
  req.resume()
  req.on('end', () => res.writeHead(200, HEADERS).end(BODY))
})
server.keepAliveTimeout = 60_000

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  serveCpuProbe({ url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }) })
})
