import net, { type AddressInfo, type Socket } from 'node:net'
import type { TestContext } from './helper.ts'

export interface TcpProxy {
  /** The port the proxy listens on (127.0.0.1). */
  port: number
  /** `<scheme>://127.0.0.1:<port>` when started with a scheme (e.g. `redis:`), else `tcp://...`. */
  url: string
  /** Breaks the link: open connections are reset and new ones are accepted and reset at once. */
  cut (): void
  /** Restores the link: new connections are piped to the target again. */
  heal (): void
  /** How many client connections are open through the proxy. */
  readonly connections: number
  close (): Promise<void>
}

/**
 * A TCP proxy on 127.0.0.1, port 0, piping every connection to `host:port`, that a test can cut
 * and heal to make a dependency (Redis, PostgreSQL, an upstream) unreachable mid-test. Closed when
 * the test ends. `scheme` only shapes `url` (`redis:` → `redis://127.0.0.1:<port>`).
 */
export async function startTcpProxy (t: TestContext, host: string, port: number, scheme = 'tcp:'): Promise<TcpProxy> {
  const open = new Set<Socket>()
  let broken = false

  const server = net.createServer((client) => {
    if (broken) {
      client.resetAndDestroy()
      return
    }
    const upstream = net.connect({ host, port })
    open.add(client)
    open.add(upstream)
    const drop = () => {
      open.delete(client)
      open.delete(upstream)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const own = (server.address() as AddressInfo).port

  const cut = () => {
    broken = true
    for (const socket of open) socket.resetAndDestroy()
    open.clear()
  }
  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      cut()
      server.close(() => resolve())
    })
    return closed
  }
  t.teardown(close)
  return {
    port: own,
    url: `${scheme}//127.0.0.1:${own}`,
    cut,
    heal: () => { broken = false },
    get connections () { return [...open].length / 2 },
    close
  }
}
