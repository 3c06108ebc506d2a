ALTER TABLE collectors DROP COLUMN cert_pem;
