SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'Sales "EU" ü' AND table_name = 'O''Brien Ünïcode table'
