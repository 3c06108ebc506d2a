DROP TABLE notification_deliveries;
DROP TABLE notification_channels;
DROP TABLE maintenance_windows;
DROP TABLE silences;
DROP TABLE alert_transitions;
DROP TABLE alerts;
DROP TABLE alert_rules_seeded;
DROP TABLE alert_rules;
