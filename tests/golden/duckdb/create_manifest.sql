CREATE SCHEMA IF NOT EXISTS "_sqlfleet";
CREATE TABLE IF NOT EXISTS "_sqlfleet"."load_manifest" ("database" VARCHAR, "schema_name" VARCHAR, "table_name" VARCHAR, "target" VARCHAR, "file_key" VARCHAR, "size" BIGINT, "rows" BIGINT, "batch_id" VARCHAR, "loaded_at" TIMESTAMP, "status" VARCHAR)
