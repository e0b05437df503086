SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'Sales "EU" ü' AND table_name = 'O''Brien Ünïcode table'
