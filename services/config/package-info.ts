import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join, basename } from 'node:path'

/** The project root, whether running from source (tsx) or from the compiled `dist/`. */
export const PROJECT_ROOT = (() => {
  let dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
  if (basename(dir) === 'dist') dir = dirname(dir)
  return dir
})()

export const PACKAGE = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { name: string, version: string }
