import net, { type AddressInfo, type Socket } from 'node:net'
import type { TestContext } from './helper.ts'

export interface TcpProxy {
  host: string
  port: number
  /** `protocol//host:port` of the proxy, keeping the rest of `target` (user, password, path). */
  url (target: string): string
  /** Drops every open connection and resets new ones until `heal()`: the target looks down. */
  cut (): void
  /** Keeps every connection open but forwards nothing (a hung peer, a dropped route) until `heal()`. */
  stall (): void
  /** Forwards again (re-joins stalled connections). */
  heal (): void
  /** Connections accepted and forwarded so far. */
  readonly connections: number
  close (): Promise<void>
}

/**
 * A TCP forwarder on 127.0.0.1 (port 0) to `targetHost:targetPort` that a test can cut and heal,
 * to make Redis, PostgreSQL or an upstream unreachable mid-test without touching the real one.
 * Closed when the test ends.
 */
export async function startTcpProxy (t: TestContext, targetHost: string, targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>()
  const pairs = new Set<[Socket, Socket]>()
  let isCut = false
  let isStalled = false
  let connections = 0
  const server = net.createServer((client) => {
    if (isCut) {
      client.resetAndDestroy()
      return
    }
    connections++
    const upstream = net.connect(targetPort, targetHost)
    const pair: [Socket, Socket] = [client, upstream]
    open.add(client)
    open.add(upstream)
    pairs.add(pair)
    const drop = () => {
      client.destroy()
      upstream.destroy()
      open.delete(client)
      open.delete(upstream)
      pairs.delete(pair)
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    if (!isStalled) join(pair)
  })
  const join = ([client, upstream]: [Socket, Socket]) => {
    client.pipe(upstream)
    upstream.pipe(client)
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const cutAll = () => {
    for (const socket of open) socket.destroy()
    open.clear()
  }
  const close = () => new Promise<void>((resolve) => {
    cutAll()
    if (!server.listening) return resolve()
    server.close(() => resolve())
  })
  t.teardown(close)
  return {
    host: '127.0.0.1',
    port,
    url (target: string) {
      const u = new URL(target)
      u.hostname = '127.0.0.1'
      u.port = String(port)
      return u.toString().replace(/\/$/, '')
    },
    cut () {
      isCut = true
      cutAll()
    },
    stall () {
      isStalled = true
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
      }
    },
    heal () {
      isCut = false
      if (isStalled) {
        isStalled = false
        for (const pair of pairs) join(pair)
      }
    },
    get connections () { return connections },
    close
  }
}
