-- Options changes get a version, carried by their notice, so an instance ends
-- only the live feeds that read older options.
ALTER TABLE "stores" ADD COLUMN "options_version" bigint DEFAULT 0 NOT NULL;