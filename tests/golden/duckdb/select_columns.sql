SELECT "id", "say ""hi""", "ünï" FROM "Sales ""EU"" ü"."O'Brien Ünïcode table"
