-- Partition by room (issue 20, docs/storage.md section 4): the per-room tables that grow with traffic,
-- messages, room_members, mentions and message_edits, can become declarative HASH partitions of room_id.
-- Every query that names a room then reads one partition: smaller indexes per partition, vacuum and rebuilds
-- per partition. Their primary and unique keys already lead with room_id, as Postgres requires. It is opt-in:
-- measured on one box at 10M messages (docs/storage.md section 2), 16 partitions cost more than they give
-- while the tables fit in RAM (group commit, cursor moves, list_rooms and history p99 all slower); they pay
-- off when operating multi-terabyte tables.
--
-- This migration makes the function that converts the tables, chatd_partition_by_room(partitions), and calls
-- it if the deployment setting CHAT_DB_PARTITIONS (runtime/config.py), which persistence/migrate.py passes as
-- `chatd.partitions`, is above 0 (unset: 0, the tables stay as they are). The setting is read once, here;
-- later, `chatctl partition-rooms N` (console/partition.py) calls the same function on a database in use.
--
-- The conversion runs in the caller's one transaction: each table is renamed, a partitioned table LIKE it
-- (columns, defaults, NOT NULL and CHECK constraints) takes its name, the rows are copied, the old table is
-- dropped, and then its primary, unique and foreign keys, the foreign keys of other tables that point at it
-- (mentions and message_edits -> messages, push_marks -> room_members) and its other indexes are made again
-- from their definitions in the catalog, under the same names. The tables are locked (ACCESS EXCLUSIVE) until
-- the commit: a large database is rewritten and reindexed, so run it in a maintenance window.
--
-- room_members (the read and delivery cursors, updated on every ack) gets fillfactor 90: room on each page
-- for the next version of a row, so a cursor move is a HOT update that touches no index (measured at 10M
-- messages: 38% HOT instead of 1%, 1.7x the rows per second). A partitioned table carries no storage
-- parameters, so each partition gets it; unpartitioned, the table does (for pages written from now on:
-- VACUUM FULL room_members applies it to the existing ones).

CREATE OR REPLACE FUNCTION chatd_partition_by_room(partitions int) RETURNS void
LANGUAGE plpgsql AS $function$
DECLARE
    targets    text[] := ARRAY['messages', 'room_members', 'mentions', 'message_edits'];
    oids       oid[];   -- the same tables, as the catalog names them
    already    int;     -- partitions of messages, if it is partitioned already
    keys       text[];  -- ALTER TABLE ... ADD CONSTRAINT, primary and unique keys before foreign keys
    drops      text[];  -- the foreign keys to drop before the tables are swapped
    indexes    text[];  -- CREATE INDEX of the indexes no constraint owns
    tbl        text;
    old        text;
    stmt       text;
    owner      text;    -- the owner of the table being converted
    i          int;
BEGIN
    IF partitions IS NULL OR partitions NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'chatd_partition_by_room: partitions must be 1..1024, got %', coalesce(partitions::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT array_agg(t::regclass::oid) INTO oids FROM unnest(targets) t;

    IF EXISTS (SELECT 1 FROM pg_class WHERE oid = ANY (oids) AND relkind = 'p') THEN
        SELECT count(*) INTO already FROM pg_inherits WHERE inhparent = 'messages'::regclass;
        RAISE EXCEPTION 'chatd_partition_by_room: the per-room tables are already partitioned (% partitions)',
            already USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    -- every lock at once, in one order: traffic that touches two of these tables waits, never deadlocks
    LOCK TABLE messages, room_members, mentions, message_edits IN ACCESS EXCLUSIVE MODE;

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
        -- the new table keeps the old one's owner and grants (whoever runs the conversion, chatd's role and
        -- a replica's read-only role keep what they had)
        SELECT pg_get_userbyid(relowner) INTO owner FROM pg_class WHERE oid = old::regclass;
        EXECUTE format('ALTER TABLE %I OWNER TO %I', tbl, owner);
        FOR stmt IN
            SELECT format('GRANT %s ON %I TO %s', a.privilege_type, tbl,
                          CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END)
              FROM pg_class c, aclexplode(c.relacl) a
             WHERE c.oid = old::regclass AND a.grantee <> c.relowner
        LOOP
            EXECUTE stmt;
        END LOOP;
        FOR i IN 0 .. partitions - 1 LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS %s, REMAINDER %s)%s',
                           tbl || '_p' || i, tbl, partitions, i,
                           CASE WHEN tbl = 'room_members' THEN ' WITH (fillfactor = 90)' ELSE '' END);
            EXECUTE format('ALTER TABLE %I OWNER TO %I', tbl || '_p' || i, owner);
        END LOOP;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I', tbl, old);
        EXECUTE format('DROP TABLE %I', old);  -- not CASCADE: anything else depending on it stops the conversion
    END LOOP;

    FOREACH stmt IN ARRAY coalesce(keys, '{}') || coalesce(indexes, '{}') LOOP
        EXECUTE stmt;
    END LOOP;
END
$function$;

COMMENT ON FUNCTION chatd_partition_by_room(int) IS
    'Convert messages, room_members, mentions and message_edits to N hash partitions by room_id (1..1024), in '
    'the calling transaction; refuses if they are partitioned already. chatctl partition-rooms N calls it.';

DO $migration$
DECLARE
    setting    text := current_setting('chatd.partitions', true);
    partitions int;
    tbl        text;
BEGIN
    IF setting IS NULL OR setting = '' THEN
        partitions := 0;
    ELSIF setting ~ '^[0-9]{1,4}$' AND setting::int <= 1024 THEN
        partitions := setting::int;
    ELSE
        RAISE EXCEPTION 'chatd.partitions must be a whole number 0..1024 (0: unpartitioned), got %', setting;
    END IF;

    IF partitions = 0 THEN
        ALTER TABLE room_members SET (fillfactor = 90);
        RETURN;
    END IF;

    PERFORM chatd_partition_by_room(partitions);
    -- autovacuum never analyzes a partitioned parent; the planner's estimates of a join over one want it
    FOREACH tbl IN ARRAY ARRAY['messages', 'room_members', 'mentions', 'message_edits'] LOOP
        EXECUTE format('ANALYZE %I', tbl);
    END LOOP;
END
$migration$;
