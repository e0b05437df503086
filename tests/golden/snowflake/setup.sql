CREATE STORAGE INTEGRATION IF NOT EXISTS "sqlfleet_lake" TYPE = EXTERNAL_STAGE STORAGE_PROVIDER = 'S3' ENABLED = TRUE STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/snowflake-lake-reader' STORAGE_AWS_EXTERNAL_ID = 'sqlfleet-7f3c' STORAGE_ALLOWED_LOCATIONS = ('s3://dms-lake/prod/') COMMENT = 'sqlfleet: read-only access to the lake';
ALTER STORAGE INTEGRATION "sqlfleet_lake" SET ENABLED = TRUE STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/snowflake-lake-reader' STORAGE_AWS_EXTERNAL_ID = 'sqlfleet-7f3c' STORAGE_ALLOWED_LOCATIONS = ('s3://dms-lake/prod/');
CREATE DATABASE IF NOT EXISTS "RAW";
CREATE SCHEMA IF NOT EXISTS "RAW"."_sqlfleet";
CREATE TABLE IF NOT EXISTS "RAW"."_sqlfleet"."load_manifest" ("database" VARCHAR, "schema_name" VARCHAR, "table_name" VARCHAR, "target" VARCHAR, "file_key" VARCHAR, "size" NUMBER(38,0), "rows" NUMBER(38,0), "batch_id" VARCHAR, "loaded_at" TIMESTAMP_NTZ(6), "status" VARCHAR, "kind" VARCHAR);
CREATE TABLE IF NOT EXISTS "RAW"."_sqlfleet"."reconciliation_ledger" ("recorded_at" TIMESTAMP_NTZ(6), "batch_id" VARCHAR, "database" VARCHAR, "schema_name" VARCHAR, "table_name" VARCHAR, "target" VARCHAR, "kind" VARCHAR, "source_rows" NUMBER(38,0), "engine_rows" NUMBER(38,0), "footer_rows" NUMBER(38,0), "warehouse_rows" NUMBER(38,0), "previous_rows" NUMBER(38,0), "inserted" NUMBER(38,0), "updated" NUMBER(38,0), "deleted" NUMBER(38,0), "load_status" VARCHAR, "status" VARCHAR, "problems" VARCHAR);
CREATE SCHEMA IF NOT EXISTS "RAW"."sales_eu";
CREATE SCHEMA IF NOT EXISTS "RAW"."crm-apac";
CREATE FILE FORMAT IF NOT EXISTS "RAW"."_sqlfleet"."parquet" TYPE = PARQUET BINARY_AS_TEXT = FALSE;
CREATE OR REPLACE STAGE "RAW"."_sqlfleet"."lake" URL = 's3://dms-lake/prod/' STORAGE_INTEGRATION = "sqlfleet_lake" FILE_FORMAT = (FORMAT_NAME = '"RAW"."_sqlfleet"."parquet"');
DESC INTEGRATION "sqlfleet_lake"
