// `node bench/multi-port-upstream.mjs N`: one process serving the bench body (as bench/upstream.ts)
// on N ports of 127.0.0.1; prints the ports on one line. The balanced scenarios use it so that
// 1 target and 3 targets cost the same upstream processes: only the balancing differs.
import http from 'node:http'

const count = Number(process.argv[2] ?? '1')
const BODY = Buffer.from(JSON.stringify({ id: 42, name: 'Portico benchmark', status: 'ok', tags: ['bench', 'json'], price: 19.99, active: true }))
const HEADERS = { 'content-type': 'application/json', 'content-length': String(BODY.length) }

const ports = await Promise.all(Array.from({ length: count }, () => new Promise((resolve) => {
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => res.writeHead(200, HEADERS).end(BODY))
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => resolve(server.address().port))
})))
process.stdout.write(ports.join(' ') + '\n')
