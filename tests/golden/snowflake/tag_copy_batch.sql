UPDATE "RAW ""prod"" ü"."_sqlfleet"."cdc_0123456789abcdef" SET "_sqlfleet_batch" = 3 WHERE "_sqlfleet_batch" IS NULL
