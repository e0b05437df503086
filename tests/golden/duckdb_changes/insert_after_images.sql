INSERT INTO "Sales ""EU"" ü"."O'Brien Ünïcode table" ("_dms_ts", "id", "line ""no""", "näme") SELECT "_dms_ts", "id", "line ""no""", "näme" FROM "temp"."main"."_sqlfleet_changes" WHERE "Op" <> 'D'
