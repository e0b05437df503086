CREATE TABLE IF NOT EXISTS "RAW ""prod"" ü"."sales-eu"."O'Brien ""Ünïcode"" table\x" ("_dms_ts" VARCHAR, "id" NUMBER(38,0), "say ""hi"" €" NUMBER(10,2))
