SELECT count(*) FROM "RAW ""prod"" ü"."sales-eu"."O'Brien ""Ünïcode"" table\x"
