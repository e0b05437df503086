DELETE FROM "Sales ""EU"" ü"."O'Brien Ünïcode table" AS t USING "temp"."main"."_sqlfleet_changes" AS s WHERE t."id" = s."id" AND t."line ""no""" = s."line ""no"""
