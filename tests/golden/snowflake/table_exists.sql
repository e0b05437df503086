SELECT count(*) FROM "RAW ""prod"" ü".information_schema.tables WHERE table_schema = 'sales-eu' AND table_name = 'O''Brien "Ünïcode" table\\x'
