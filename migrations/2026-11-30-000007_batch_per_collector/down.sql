-- Back to one global id: of ids two collectors share, the earliest record stays.
DELETE FROM ingested_batches b
 USING ingested_batches older
 WHERE b.batch_id = older.batch_id
   AND (b.received_at, b.collector_id) > (older.received_at, older.collector_id);
ALTER TABLE ingested_batches DROP CONSTRAINT ingested_batches_pkey;
ALTER TABLE ingested_batches ADD PRIMARY KEY (batch_id);
