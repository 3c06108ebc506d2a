-- User names are normalised to lower case (issue 11): `Admin` and `admin` are one user.
-- Two existing accounts that differ only by case cannot be merged silently: say which.
DO $$
DECLARE clash text;
BEGIN
    SELECT string_agg(username, ', ') INTO clash
      FROM users
     WHERE lower(username) IN (SELECT lower(username) FROM users GROUP BY 1 HAVING count(*) > 1);
    IF clash IS NOT NULL THEN
        RAISE EXCEPTION 'user names differ only by case: %; rename or delete all but one first', clash;
    END IF;
END $$;
UPDATE users SET username = lower(username) WHERE username <> lower(username);
ALTER TABLE users ADD CONSTRAINT users_username_lower_case CHECK (username = lower(username));
