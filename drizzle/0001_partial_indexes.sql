DROP INDEX "requests_status_created_at_idx";--> statement-breakpoint
DROP INDEX "requests_user_created_at_idx";--> statement-breakpoint
CREATE INDEX "requests_status_created_at_idx" ON "requests" USING btree ("status_code","created_at" DESC NULLS LAST) WHERE "requests"."status_code" >= 400;--> statement-breakpoint
CREATE INDEX "requests_user_created_at_idx" ON "requests" USING btree ("user_id","created_at" DESC NULLS LAST) WHERE "requests"."user_id" is not null;