import { defineConfig } from 'drizzle-kit'

// `npx drizzle-kit generate` turns services/tracking/schema.ts into SQL under drizzle/, which is
// committed and applied at start-up (and by `npm run db:migrate`) by drizzle's migrator.
export default defineConfig({
  dialect: 'postgresql',
  schema: './services/tracking/schema.ts',
  out: './drizzle'
})
