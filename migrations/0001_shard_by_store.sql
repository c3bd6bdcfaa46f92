-- Every table keyed by store_id first, so a store-sharded PostgreSQL (Citus)
-- can distribute each of them by store_id. Existing rows are kept: a chunk
-- takes the store of its session.
ALTER TABLE "sync_chunks" ADD COLUMN "store_id" uuid;--> statement-breakpoint
UPDATE "sync_chunks" SET "store_id" = s."store_id" FROM "sync_sessions" s WHERE s."id" = "sync_chunks"."session_id";--> statement-breakpoint
-- Chunks whose session is gone were unreachable already.
DELETE FROM "sync_chunks" WHERE "store_id" IS NULL;--> statement-breakpoint
ALTER TABLE "sync_chunks" ALTER COLUMN "store_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_chunks" DROP CONSTRAINT "sync_chunks_session_id_cursor_pk";--> statement-breakpoint
ALTER TABLE "sync_chunks" ADD CONSTRAINT "sync_chunks_store_id_session_id_cursor_pk" PRIMARY KEY("store_id","session_id","cursor");--> statement-breakpoint
ALTER TABLE "sync_sessions" DROP CONSTRAINT "sync_sessions_pkey";--> statement-breakpoint
ALTER TABLE "sync_sessions" ADD CONSTRAINT "sync_sessions_store_id_id_pk" PRIMARY KEY("store_id","id");--> statement-breakpoint
DROP INDEX "sync_sessions_store";--> statement-breakpoint
ALTER TABLE "sync_sessions" ADD COLUMN "client" text;--> statement-breakpoint
ALTER TABLE "tokens" DROP CONSTRAINT "tokens_hash_unique";--> statement-breakpoint
CREATE UNIQUE INDEX "tokens_store_hash" ON "tokens" USING btree ("store_id","hash");
