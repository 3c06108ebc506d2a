-- The collector's current certificate itself (public), so that an agent whose renewal
-- answer was lost (a crash) can fetch the certificate issued for its new key.
ALTER TABLE collectors ADD COLUMN cert_pem text NOT NULL DEFAULT '';
