DROP TABLE IF EXISTS "RAW ""prod"" ü"."_sqlfleet"."load_0123456789abcdef"
