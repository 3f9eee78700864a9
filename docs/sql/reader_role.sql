-- A read-only role for procurement and BI tools: SELECT on the plan store, nothing else.
--
-- Run once, connected as the role the pipeline writes with (the owner of the tables), so
-- that ALTER DEFAULT PRIVILEGES covers the tables and views it creates later too:
--   psql "postgresql://planner@db:5432/sop" -v reader=sop_reader -v password='…' \
--        -v schema=public -f docs/sql/reader_role.sql
-- CREATE ROLE needs CREATEROLE (or let an administrator run that one line).
-- tests/integration/test_postgres_store.py runs this file as it is.

CREATE ROLE :"reader" LOGIN PASSWORD :'password';
GRANT USAGE ON SCHEMA :"schema" TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA :"schema" TO :"reader";
ALTER DEFAULT PRIVILEGES IN SCHEMA :"schema" GRANT SELECT ON TABLES TO :"reader";
