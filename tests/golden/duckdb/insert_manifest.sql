INSERT INTO "_sqlfleet"."load_manifest" ("database", "schema_name", "table_name", "target", "file_key", "size", "rows", "batch_id", "loaded_at", "status") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
