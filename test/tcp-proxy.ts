import net from 'node:net'
import type { AddressInfo } from 'node:net'
import type { TestContext } from './helper.ts'

export interface TcpProxy {
  port: number
  /** Drops every open connection and resets new ones until `heal()`: the server "goes away". */
  cut (): void
  heal (): void
  close (): Promise<void>
}

/**
 * A TCP relay on 127.0.0.1 (port 0) in front of host:port, for outage tests: `cut()` severs
 * every connection through it as a crashed server or a broken network would. Closed when the
 * test ends.
 */
export async function startTcpProxy (t: TestContext, host: string, port: number): Promise<TcpProxy> {
  const pairs = new Set<net.Socket>()
  let isCut = false
  const server = net.createServer((client) => {
    if (isCut) {
      client.resetAndDestroy()
      return
    }
    const upstream = net.connect(port, host)
    pairs.add(client)
    pairs.add(upstream)
    const drop = () => {
      client.destroy()
      upstream.destroy()
      pairs.delete(client)
      pairs.delete(upstream)
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () => new Promise<void>((resolve) => {
    for (const socket of pairs) socket.destroy()
    server.close(() => resolve())
  })
  t.teardown(close)
  return {
    port: (server.address() as AddressInfo).port,
    cut () {
      isCut = true
      for (const socket of pairs) socket.resetAndDestroy()
      pairs.clear()
    },
    heal () { isCut = false },
    close
  }
}
