CREATE TABLE "entries" (
	"store_id" uuid NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"rev" bigint NOT NULL,
	"ts_us" bigint NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	"json" text,
	"bytes" "bytea",
	"content_type" text,
	CONSTRAINT "entries_store_id_key_pk" PRIMARY KEY("store_id","key")
);
--> statement-breakpoint
CREATE TABLE "stores" (
	"id" uuid PRIMARY KEY NOT NULL,
	"config" jsonb NOT NULL,
	"options" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"head_rev" bigint DEFAULT 0 NOT NULL,
	"last_ts_us" bigint DEFAULT 0 NOT NULL,
	"purged_rev" bigint DEFAULT 0 NOT NULL,
	"created_us" bigint DEFAULT (extract(epoch from clock_timestamp()) * 1000000)::bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_chunks" (
	"session_id" uuid NOT NULL,
	"cursor" integer NOT NULL,
	"keys" text[] NOT NULL,
	CONSTRAINT "sync_chunks_session_id_cursor_pk" PRIMARY KEY("session_id","cursor")
);
--> statement-breakpoint
CREATE TABLE "sync_sessions" (
	"store_id" uuid NOT NULL,
	"id" uuid PRIMARY KEY NOT NULL,
	"head_rev" bigint NOT NULL,
	"batch_size" integer NOT NULL,
	"window" integer NOT NULL,
	"total" integer NOT NULL,
	"batches" integer NOT NULL,
	"delivered" integer DEFAULT -1 NOT NULL,
	"acked" integer DEFAULT -1 NOT NULL,
	"acked_keys" integer DEFAULT 0 NOT NULL,
	"last_active_us" bigint NOT NULL,
	"created_us" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tokens" (
	"store_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"hash" text NOT NULL,
	"scope" text NOT NULL,
	"created_us" bigint DEFAULT (extract(epoch from clock_timestamp()) * 1000000)::bigint NOT NULL,
	CONSTRAINT "tokens_store_id_id_pk" PRIMARY KEY("store_id","id"),
	CONSTRAINT "tokens_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "entries_store_rev" ON "entries" USING btree ("store_id","rev");--> statement-breakpoint
CREATE INDEX "entries_tombstones" ON "entries" USING btree ("ts_us") WHERE "entries"."deleted";--> statement-breakpoint
CREATE INDEX "sync_sessions_store" ON "sync_sessions" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "sync_sessions_active" ON "sync_sessions" USING btree ("last_active_us");