-- Partition by room (issue 20, docs/storage.md section 4): the per-room tables that grow with traffic,
-- messages, room_members, mentions and message_edits, become declarative HASH partitions of room_id. Every
-- query that names a room reads one partition: smaller indexes per partition, vacuum and rebuilds per
-- partition. Their primary and unique keys already lead with room_id, as Postgres requires.
--
-- The number of partitions is a deployment setting, read when this migration runs: CHAT_DB_PARTITIONS
-- (runtime/config.py), which persistence/migrate.py passes as `chatd.partitions` (unset: 16). 0 leaves the
-- tables as they are. Changing the setting later changes nothing: it is read once, here.
--
-- An existing database is converted in place, in this one transaction: each table is renamed, a partitioned
-- table LIKE it (columns, defaults, NOT NULL and CHECK constraints) takes its name, the rows are copied, the
-- old table is dropped, and then its primary, unique and foreign keys, the foreign keys of other tables that
-- point at it (mentions and message_edits -> messages, push_marks -> room_members) and its other indexes are
-- made again from their definitions in the catalog, under the same names. The tables are locked (ACCESS
-- EXCLUSIVE) until the commit: a large database is rewritten and reindexed, so run it in a maintenance window.
--
-- room_members (the read and delivery cursors, updated on every ack) gets fillfactor 90: room on each page
-- for the next version of a row, so a cursor move is a HOT update that touches no index (measured at 10M
-- messages: 38% HOT instead of 1%, 1.7x the rows per second). A partitioned table carries no storage
-- parameters, so each partition gets it; unpartitioned, the table does (for pages written from now on:
-- VACUUM FULL room_members applies it to the existing ones).

DO $migration$
DECLARE
    setting    text := current_setting('chatd.partitions', true);
    partitions int;
    targets    text[] := ARRAY['messages', 'room_members', 'mentions', 'message_edits'];
    oids       oid[];   -- the same tables, as the catalog names them
    keys       text[];  -- ALTER TABLE ... ADD CONSTRAINT, primary and unique keys before foreign keys
    drops      text[];  -- the foreign keys to drop before the tables are swapped
    indexes    text[];  -- CREATE INDEX of the indexes no constraint owns
    tbl        text;
    old        text;
    stmt       text;
    i          int;
BEGIN
    IF setting IS NULL OR setting = '' THEN
        partitions := 16;
    ELSIF setting ~ '^[0-9]{1,4}$' AND setting::int <= 1024 THEN
        partitions := setting::int;
    ELSE
        RAISE EXCEPTION 'chatd.partitions must be a whole number 0..1024 (0: unpartitioned), got %', setting;
    END IF;

    IF partitions = 0 THEN
        ALTER TABLE room_members SET (fillfactor = 90);
        RETURN;
    END IF;

    SELECT array_agg(t::regclass::oid) INTO oids FROM unnest(targets) t;

    SELECT array_agg(format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                            pg_get_constraintdef(c.oid))
                     ORDER BY c.contype = 'f', c.conrelid::regclass::text, c.conname),
           array_agg(format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname))
               FILTER (WHERE c.contype = 'f')
      INTO keys, drops
      FROM pg_constraint c
     WHERE c.contype IN ('p', 'u', 'f')
       AND (c.conrelid = ANY (oids) OR c.confrelid = ANY (oids));

    SELECT array_agg(pg_get_indexdef(x.indexrelid) ORDER BY x.indexrelid::regclass::text)
      INTO indexes
      FROM pg_index x
     WHERE x.indrelid = ANY (oids)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = x.indrelid AND c.conindid = x.indexrelid);

    FOREACH stmt IN ARRAY coalesce(drops, '{}') LOOP
        EXECUTE stmt;
    END LOOP;

    FOREACH tbl IN ARRAY targets LOOP
        old := tbl || '_unpartitioned';
        EXECUTE format('ALTER TABLE %I RENAME TO %I', tbl, old);
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE'
                       ' INCLUDING COMMENTS) PARTITION BY HASH (room_id)', tbl, old);
        FOR i IN 0 .. partitions - 1 LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS %s, REMAINDER %s)%s',
                           tbl || '_p' || i, tbl, partitions, i,
                           CASE WHEN tbl = 'room_members' THEN ' WITH (fillfactor = 90)' ELSE '' END);
        END LOOP;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I', tbl, old);
        EXECUTE format('DROP TABLE %I', old);  -- not CASCADE: anything else depending on it stops the migration
    END LOOP;

    FOREACH stmt IN ARRAY coalesce(keys, '{}') || coalesce(indexes, '{}') LOOP
        EXECUTE stmt;
    END LOOP;

    -- autovacuum never analyzes a partitioned parent; the planner's estimates of a join over one want it
    FOREACH tbl IN ARRAY targets LOOP
        EXECUTE format('ANALYZE %I', tbl);
    END LOOP;
END
$migration$;
