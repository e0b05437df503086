CREATE OR REPLACE TABLE "Sales ""EU"" ü"."O'Brien Ünïcode table" AS SELECT * FROM read_parquet(['/lake/db/it''s/LOAD00000001.parquet'])
