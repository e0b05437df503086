SELECT "file_key" FROM "RAW ""prod"" ü"."_sqlfleet"."load_manifest" WHERE "database" = 'sales-eu' AND "target" = 'O''Brien "Ünïcode" table\\x' AND "kind" = 'cdc'
