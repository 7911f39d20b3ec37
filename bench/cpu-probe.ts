import type { BenchTarget } from './scenario.ts'

/**
 * The IPC side of a benchmarked child process (the upstream, or one scenario's target). The
 * harness sends `cpu-start` / `cpu-stop` around each autocannon run and gets back the process's
 * CPU time (user + system, µs) in between, so it can print CPU per request of the process under
 * load, not of the load generator.
 */
export type ParentMessage =
  | { type: 'cpu-start' }
  | { type: 'cpu-stop' }
  | { type: 'report' }
  | { type: 'close' }

export type ChildMessage =
  | { type: 'ready', url: string, path?: string, method?: string, headers?: Record<string, string>, body?: string, expectStatus?: number }
  | { type: 'cpu', micros: number }
  | { type: 'report', figures: Record<string, number> | null, error?: string }
  | { type: 'error', message: string }
  | { type: 'closed' }

function ownCpuMicros (): number {
  const { user, system } = process.cpuUsage()
  return user + system
}

export function send (message: ChildMessage, done?: () => void): void {
  if (process.send) process.send(message, undefined, {}, () => done?.())
  else done?.()
}

/** Announces `target` to the parent and answers its messages until told to close. */
export function serveCpuProbe (target: BenchTarget): void {
  if (!process.send) throw new Error('run me through bench/run.ts (I need an IPC channel)')
  const cpuMicros = target.cpuMicros ?? ownCpuMicros
  let started = 0
  process.on('message', (message: ParentMessage) => {
    switch (message.type) {
      case 'cpu-start':
        started = cpuMicros()
        break
      case 'cpu-stop':
        send({ type: 'cpu', micros: cpuMicros() - started })
        break
      case 'report':
        if (!target.report) {
          send({ type: 'report', figures: null })
        } else {
          target.report().then(
            (figures) => send({ type: 'report', figures }),
            (err: Error) => send({ type: 'report', figures: null, error: err.message })
          )
        }
        break
      case 'close':
        target.close().catch(() => {}).finally(() => {
          send({ type: 'closed' })
          process.disconnect()
        })
        break
    }
  })
  // The parent went away (crashed or killed): nothing left to serve.
  process.on('disconnect', () => { target.close().catch(() => {}).finally(() => process.exit(0)) })
  const { url, path, method, headers, body, expectStatus } = target
  send({ type: 'ready', url, path, method, headers, body, expectStatus })
}
