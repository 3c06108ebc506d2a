-- The read-only role (Grafana, SQL users) sees the alerts: their state, transitions and the
-- notifications' delivery status. Not the channels' configuration (addresses, sealed
-- secrets): their ids and names only.
GRANT SELECT ON alerts, alert_transitions, alert_rules, silences, maintenance_windows TO pganalytics_reader;
GRANT SELECT (id, transition_id, channel_id, status, attempts, next_attempt_at, last_error, delivered_at, created_at)
    ON notification_deliveries TO pganalytics_reader;
GRANT SELECT (id, name) ON notification_channels TO pganalytics_reader;
-- The agent's release, for the agent health dashboard.
GRANT SELECT (agent_version) ON collectors TO pganalytics_reader;
