SELECT "id", "say ""hi"" €" FROM "RAW ""prod"" ü"."sales-eu"."O'Brien ""Ünïcode"" table\x"
