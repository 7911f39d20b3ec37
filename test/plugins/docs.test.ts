import t from 'tap'
import { build } from '../helper.ts'

const config = {
  services: { users: { url: 'http://127.0.0.1:1' }, files: { url: 'http://127.0.0.1:1' } },
  routes: [
    {
      path: '/api/users/:id',
      methods: ['GET', 'PUT'],
      service: 'users',
      upstreamPath: '/users/:id',
      summary: 'Get or replace one user',
      description: 'Reads from the primary.',
      schema: {
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]+$' } }, required: ['id'] },
        querystring: { type: 'object', properties: { fields: { type: 'string', description: 'Comma list' } } },
        headers: { type: 'object', properties: { 'x-tenant': { type: 'string' } } },
        body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } } }
      }
    },
    { path: '/api/orgs/:org/teams/:team', methods: ['GET'], service: 'users', tags: ['Teams'] },
    { path: '/api/files/*', methods: ['GET'], service: 'files', upstreamPath: '/files/*' }
  ]
}

t.test('/docs/json documents proxied routes from their schemas, and the gateway under tag Gateway', async (t) => {
  const app = await build(t, { config })
  const res = await app.inject({ url: '/docs/json' })
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.match(doc.openapi, /^3\./)

  const get = doc.paths['/api/users/{id}'].get
  t.equal(get.summary, 'Get or replace one user')
  t.same(get.tags, ['users'], 'tags default to the service name')
  t.match(get.description, /Reads from the primary\.[\s\S]*Proxied to the \*\*users\*\* service \(`\/users\/:id`\)/)
  const params = Object.fromEntries(get.parameters.map((p: { in: string, name: string }) => [`${p.in}:${p.name}`, p]))
  t.match(params['path:id'], { required: true, schema: { type: 'string', pattern: '^[0-9]+$' } })
  t.match(params['query:fields'], { description: 'Comma list' })
  t.ok(params['header:x-tenant'])
  t.notOk(get.requestBody, 'GET has no request body')
  t.match(get.responses['200'].content['application/json'].schema.properties, { id: { type: 'string' }, name: { type: 'string' } })
  for (const code of ['400', '404', '413', '502', '503', '504']) {
    t.match(get.responses[code].content['application/json'].schema, { properties: { statusCode: {}, error: {}, message: {}, requestId: {} } }, `error ${code} documented`)
  }
  const put = doc.paths['/api/users/{id}'].put
  t.match(put.requestBody.content['application/json'].schema, { required: ['name'], properties: { name: { type: 'string' } } })

  const teams = doc.paths['/api/orgs/{org}/teams/{team}'].get
  t.same(teams.tags, ['Teams'])
  t.same(teams.parameters.map((p: { name: string, in: string, required: boolean }) => [p.in, p.name, p.required]), [['path', 'org', true], ['path', 'team', true]], 'a route without a schema still shows its path params')

  const files = doc.paths['/api/files/{path}'].get
  t.ok(files, 'a wildcard shows as {path}')
  t.same(files.parameters.map((p: { name: string }) => p.name), ['path'])

  for (const path of ['/', '/health', '/health/ready']) t.same(doc.paths[path].get.tags, ['Gateway'], `${path} under Gateway`)
  t.notOk(Object.keys(doc.paths).some((p) => p.startsWith('/docs')), 'the docs routes themselves are hidden')
})

t.test('/docs serves Swagger UI', async (t) => {
  const app = await build(t, { config })
  const res = await app.inject({ url: '/docs' })
  const page = res.statusCode === 302 ? await app.inject({ url: res.headers.location as string }) : res
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /swagger-ui/i)
})
