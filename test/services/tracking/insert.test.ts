import t from 'tap'
import { isoTimestamp } from '../../../services/tracking/insert.ts'

t.test('isoTimestamp formats as Date#toISOString does, across seconds and with fractional milliseconds', async (t) => {
  const now = Date.now()
  const times = [0, 999, 1000, 1001.999, -1, -1500.5, now, now + 0.75, now + 999, now + 1000, now - 86_400_000, 4_102_444_799_999.5]
  for (let i = 0; i < 2000; i++) times.push(Math.random() * 4e12, now + (Math.random() - 0.5) * 10_000)
  const wrong = times.filter(ms => isoTimestamp(ms) !== new Date(ms).toISOString())
  t.same(wrong, [], 'no time formats differently')
  t.equal(isoTimestamp(Date.UTC(2026, 10, 27, 9, 4, 46, 57) + 0.52), '2026-11-27T09:04:46.057Z')
})
