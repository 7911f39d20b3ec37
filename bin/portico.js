#!/usr/bin/env node
// The `portico` command. Runs the TypeScript sources through tsx, like `npm start` does.
import { register } from 'tsx/esm/api'

register()
await import('../cli/portico.ts')
