/**
 * `npm run db:migrate`: applies the committed migrations to DATABASE_URL (or the embedded
 * database under DATA_DIR) and exits. The gateway does the same at start-up; this is for
 * deploys that migrate in a separate step.
 */
import { loadEnv } from '../config/env.ts'
import { ConfigError } from '../config/config-error.ts'
import { openTrackingDatabase } from './database.ts'

try {
  const env = loadEnv()
  const database = await openTrackingDatabase({ url: env.DATABASE_URL, dataDir: env.DATA_DIR })
  try {
    await database.migrate()
    process.stdout.write(`migrations applied to ${database.kind} database at ${database.location}\n`)
  } finally {
    await database.close()
  }
} catch (err) {
  process.stderr.write(err instanceof ConfigError ? err.message + '\n' : `Migration failed: ${(err as Error).message}\n`)
  process.exit(1)
}
