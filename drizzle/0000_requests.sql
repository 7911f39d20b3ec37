CREATE TABLE "requests" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"request_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"method" text NOT NULL,
	"path" text NOT NULL,
	"query" text,
	"route" text NOT NULL,
	"service" text NOT NULL,
	"status_code" smallint NOT NULL,
	"duration_ms" double precision NOT NULL,
	"upstream_ms" double precision,
	"ip" text,
	"user_id" text,
	"tier" text,
	"user_agent" text,
	"cache_status" text,
	"rate_limit" text,
	"request_headers" jsonb NOT NULL,
	"request_body" text,
	"request_body_truncated" boolean DEFAULT false NOT NULL,
	"bytes_in" integer DEFAULT 0 NOT NULL,
	"response_headers" jsonb NOT NULL,
	"response_body" text,
	"response_body_truncated" boolean DEFAULT false NOT NULL,
	"bytes_out" integer DEFAULT 0 NOT NULL,
	"error" text
);
--> statement-breakpoint
CREATE INDEX "requests_created_at_idx" ON "requests" USING btree ("created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "requests_status_created_at_idx" ON "requests" USING btree ("status_code","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "requests_path_created_at_idx" ON "requests" USING btree ("path","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "requests_user_created_at_idx" ON "requests" USING btree ("user_id","created_at" DESC NULLS LAST);