CREATE OR REPLACE TABLE "Sales ""EU"" ü"."O'Brien Ünïcode table" AS SELECT * EXCLUDE ("Op") FROM read_parquet(['/lake/db/it''s/LOAD00000001.parquet', '/lake/db/"q" ü/LOAD00000002.parquet'])
