DELETE FROM "_sqlfleet"."load_manifest" WHERE "database" = 'Sales "EU" ü' AND "target" = 'O''Brien Ünïcode table' AND "kind" = 'load'
