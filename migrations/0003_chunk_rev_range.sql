-- The rev range of a chunk whose keys are every entry served in it, so that
-- its batch is read by that range rather than key by key (null: by its keys).
ALTER TABLE "sync_chunks" ADD COLUMN "from_rev" bigint;--> statement-breakpoint
ALTER TABLE "sync_chunks" ADD COLUMN "to_rev" bigint;
