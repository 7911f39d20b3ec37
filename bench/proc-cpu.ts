import { readFileSync } from 'node:fs'

// Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel build.
const TICK_MICROS = 1e6 / 100

/**
 * CPU time (user + system, µs, all threads) of another process, from /proc/<pid>/stat. Resolution
 * is one clock tick (10 ms): enough over a run of several seconds. Linux only.
 */
export function processCpuMicros (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime: fields 14 and 15 of the line counting from 1, so 11 and 12 here.
  return (Number(fields[11]) + Number(fields[12])) * TICK_MICROS
}
