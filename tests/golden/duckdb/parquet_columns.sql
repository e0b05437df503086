SELECT * FROM read_parquet(['/lake/db/it''s/LOAD00000001.parquet', '/lake/db/"q" ü/LOAD00000002.parquet']) LIMIT 0
