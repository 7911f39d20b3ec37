import http from 'node:http'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import type { TestContext } from './helper.ts'

/** One span as an OTLP/HTTP JSON export carries it, ids as hex. */
export interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  scope: string
  attributes: Record<string, unknown>
}

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const

export interface OtlpReceiver {
  /** What to set OTEL_EXPORTER_OTLP_ENDPOINT to. */
  url: string
  spans: ReceivedSpan[]
  /** Resolves once at least `count` spans have arrived. */
  waitForSpans (count: number): Promise<void>
  close (): Promise<void>
}

/**
 * A real OTLP/HTTP trace receiver on 127.0.0.1, port 0. It accepts the JSON encoding
 * (OTEL_EXPORTER_OTLP_PROTOCOL=http/json) and answers 415 to anything else, so a protocol
 * mismatch shows up as missing spans rather than garbage.
 */
export async function startOtlpReceiver (t: TestContext): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = []
  const waiters: Array<{ count: number, resolve: () => void }> = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(415).end()
        return
      }
      for (const span of parseExport(JSON.parse(Buffer.concat(chunks).toString('utf8')))) spans.push(span)
      for (const w of waiters.splice(0)) {
        if (spans.length >= w.count) w.resolve()
        else waiters.push(w)
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
  t.teardown(close)
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    waitForSpans: (count) => spans.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve })),
    close
  }
}

interface OtlpExport {
  resourceSpans?: Array<{ scopeSpans?: Array<{ scope?: { name?: string }, spans?: Array<Record<string, unknown>> }> }>
}

function parseExport (body: OtlpExport): ReceivedSpan[] {
  const out: ReceivedSpan[] = []
  for (const rs of body.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        const attributes: Record<string, unknown> = {}
        for (const a of (s.attributes as Array<{ key: string, value: Record<string, unknown> }> | undefined) ?? []) {
          attributes[a.key] = Object.values(a.value)[0]
        }
        out.push({
          traceId: hexId(s.traceId),
          spanId: hexId(s.spanId),
          parentSpanId: s.parentSpanId ? hexId(s.parentSpanId) : undefined,
          name: String(s.name),
          kind: Number(s.kind),
          scope: ss.scope?.name ?? '',
          attributes
        })
      }
    }
  }
  return out
}

// The OTLP JSON encoding writes ids as hex; some exporters write base64. Accept both.
function hexId (id: unknown): string {
  const s = String(id)
  return /^[0-9a-f]+$/.test(s) && (s.length === 32 || s.length === 16) ? s : Buffer.from(s, 'base64').toString('hex')
}

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export interface ChildGateway {
  url: string
  child: ChildProcess
  /** Every stdout line that parsed as JSON (the pino log). */
  logs: Array<Record<string, unknown>>
  /** SIGTERM, then the exit code. */
  stop (): Promise<number | null>
}

/**
 * The gateway as `npm start` runs it — `node --import tsx --import ./tracing.ts server.ts` — in a
 * child process (tracing must load before Fastify), listening on 127.0.0.1 and a free port.
 */
export async function spawnGateway (t: TestContext, env: Record<string, string | undefined>, script = 'server.ts'): Promise<ChildGateway> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './tracing.ts', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const logs: Array<Record<string, unknown>> = []
  let stderr = ''
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString() })
  let buffered = ''
  let onListening: ((url: string) => void) | undefined
  child.stdout!.on('data', (c: Buffer) => {
    buffered += c.toString()
    let nl: number
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      try {
        const entry = JSON.parse(line) as Record<string, unknown>
        logs.push(entry)
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(String(entry.msg))
        if (m) onListening?.(m[1])
        else if (entry.msg === 'fixture ready') onListening?.('')
      } catch {}
    }
  })
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>
  const url = await Promise.race([
    new Promise<string>((resolve) => { onListening = resolve }),
    exited.then(([code]) => { throw new Error(`gateway exited with ${code} before listening: ${stderr}`) })
  ])
  let stopped = false
  const stop = async () => {
    if (!stopped) {
      stopped = true
      child.kill('SIGTERM')
    }
    const [code] = await exited
    return code
  }
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return { url, child, logs, stop }
}
