DELETE FROM "Sales ""EU"" ü"."O'Brien Ünïcode table"
