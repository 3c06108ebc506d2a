-- A batch id is unique per collector, not across collectors: collector B's batch is never a
-- "replay" of collector A's that happens to carry the same id (issue 11). Existing ids were
-- unique across collectors, so they are unique per collector too.
ALTER TABLE ingested_batches DROP CONSTRAINT ingested_batches_pkey;
ALTER TABLE ingested_batches ADD PRIMARY KEY (collector_id, batch_id);
