DROP TABLE IF EXISTS "temp"."main"."_sqlfleet_changes"
