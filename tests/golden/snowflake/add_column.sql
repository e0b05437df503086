ALTER TABLE "RAW ""prod"" ü"."sales-eu"."O'Brien ""Ünïcode"" table\x" ADD COLUMN "new 'col'" TIMESTAMP_NTZ(6)
