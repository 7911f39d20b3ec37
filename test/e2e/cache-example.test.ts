import t from 'tap'
import { startExampleServices } from '../../examples/services/index.ts'
import { build, exampleConfigAt } from '../helper.ts'

t.test('the example config caches the products list and a POST invalidates it', async (t) => {
  const services = await startExampleServices({ users: 0, products: 0, orders: 0, auth: 0 })
  t.teardown(services.close)
  const config = exampleConfigAt(services.urls)
  const app = await build(t, { config })

  const first = await app.inject('/api/products')
  t.equal(first.headers['x-cache'], 'MISS')
  const second = await app.inject('/api/products')
  t.equal(second.headers['x-cache'], 'HIT')
  t.equal(second.body, first.body)

  const created = await app.inject({ method: 'POST', url: '/api/products', payload: { name: 'Mouse', price: 19 } })
  t.equal(created.statusCode, 201)
  const after = await app.inject('/api/products')
  t.equal(after.headers['x-cache'], 'MISS', 'the POST purged the list')
  t.equal(after.json().total, first.json().total + 1)

  const doc = (await app.inject('/docs/json')).json()
  t.match(doc.paths['/api/products'].get.description, /Cached by the gateway for 30 s/)
})
