import t from 'tap'
import { redactBody } from '../../../services/tracking/redact.ts'
import { BodyCapture, storedBody } from '../../../services/tracking/capture.ts'

t.test('complete JSON: every credential-named field at any depth', async (t) => {
  const body = JSON.stringify({ user: 'a', Password: 'p', profile: { refresh_token: 'r', apiKey: 'k', tokens: ['a', 'b'] }, items: [{ clientSecret: 's', ok: 1 }] })
  t.same(JSON.parse(redactBody(body, 'json', true)), {
    user: 'a', Password: '[REDACTED]', profile: { refresh_token: '[REDACTED]', apiKey: '[REDACTED]', tokens: '[REDACTED]' }, items: [{ clientSecret: '[REDACTED]', ok: 1 }]
  })
  t.equal(redactBody('{ "a": 1,\n "b": [2] }', 'json', true), '{ "a": 1,\n "b": [2] }', 'a body without credentials is stored as sent')
})

t.test('cut or invalid JSON: redacted in its text, objects under a secret key removed whole', async (t) => {
  t.equal(redactBody('{"a":1,"password":"hun', 'json', false), '{"a":1,"password":"[REDACTED]"')
  t.equal(redactBody('{"secret": {"x": "y", "z": [1, {"q": "}"}]}, "b": 2}', 'json', false), '{"secret": "[REDACTED]", "b": 2}')
  t.equal(redactBody('{"token": [1, 2, "x', 'json', false), '{"token": "[REDACTED]"')
  t.equal(redactBody('{"n": {"token": 123, "note": "say \\"token\\": no"}}', 'json', false), '{"n": {"token": "[REDACTED]", "note": "say \\"token\\": no"}}')
  t.equal(redactBody('{"password": "a"', 'json', true), '{"password": "[REDACTED]"', 'invalid JSON falls back to the text path')
})

t.test('form bodies: encoded names too', async (t) => {
  t.equal(redactBody('a=1&pass%77ord=x&access_token=y&b', 'form', true), 'a=1&pass%77ord=[REDACTED]&access_token=[REDACTED]&b')
  t.equal(redactBody('a=1&b=2', 'form', true), 'a=1&b=2')
})

t.test('stored bodies: caps, encodings, binary and NUL bytes', async (t) => {
  const capture = new BodyCapture(8)
  capture.add(Buffer.from('abcdef'))
  capture.add(Buffer.from('ghijkl'))
  t.equal(capture.kept, 8)
  t.equal(capture.total, 12)
  t.equal(capture.truncated, true)
  t.equal(storedBody(capture, 'text/plain', undefined), 'abcdefgh')
  const nul = new BodyCapture(100)
  nul.add(Buffer.from('a\u0000b'))
  t.equal(storedBody(nul, 'text/plain', undefined), 'a\uFFFDb', 'PostgreSQL text cannot hold NUL')
  t.equal(storedBody(nul, 'application/json', 'br'), '[br-encoded body, 3 bytes]')
  const bin = new BodyCapture(100)
  bin.add(Buffer.from([0xff, 0xfe, 0x00]))
  t.equal(storedBody(bin, undefined, undefined), '[binary body, 3 bytes]')
  const untyped = new BodyCapture(100)
  untyped.addString('{"token":"x"}')
  t.equal(storedBody(untyped, undefined, undefined), '{"token":"[REDACTED]"}', 'untyped JSON is recognised')
  t.equal(storedBody(new BodyCapture(10), 'text/plain', undefined), null)
})
