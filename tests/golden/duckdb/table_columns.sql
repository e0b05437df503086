SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() AND table_schema = 'Sales "EU" ü' AND table_name = 'O''Brien Ünïcode table' ORDER BY ordinal_position
