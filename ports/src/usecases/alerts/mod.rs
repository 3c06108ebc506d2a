//! Alerting use cases: evaluation, notification delivery, and what people do with rules,
//! alerts, silences, maintenance windows and channels.

mod channels;
mod evaluate;
mod manage;
mod notify;
mod rules;

pub use channels::{ChannelAdmin, ChannelError, ChannelInput};
pub use evaluate::{EvaluateAlerts, EvaluationReport};
pub use manage::{AlertAdmin, AlertAdminError};
pub use notify::{CHANNEL_SECRET, DeliverNotifications, NotifyReport, message_of};
pub use rules::{RuleAdmin, RuleError};
