SELECT file_name, num_rows FROM parquet_file_metadata(['/lake/db/it''s/LOAD00000001.parquet', '/lake/db/"q" ü/LOAD00000002.parquet'])
