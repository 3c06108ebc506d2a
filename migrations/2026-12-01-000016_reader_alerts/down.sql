REVOKE SELECT (agent_version) ON collectors FROM pganalytics_reader;
REVOKE SELECT (id, name) ON notification_channels FROM pganalytics_reader;
REVOKE SELECT (id, transition_id, channel_id, status, attempts, next_attempt_at, last_error, delivered_at, created_at)
    ON notification_deliveries FROM pganalytics_reader;
REVOKE SELECT ON alerts, alert_transitions, alert_rules, silences, maintenance_windows FROM pganalytics_reader;
