CREATE OR REPLACE TRANSIENT TABLE "RAW ""prod"" ü"."_sqlfleet"."load_0123456789abcdef" ("_dms_ts" VARCHAR, "id" NUMBER(38,0), "say ""hi"" €" NUMBER(10,2))
