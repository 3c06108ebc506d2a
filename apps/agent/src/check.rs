//! `pganalytics-agent check`: connects to every target, runs every collector once, checks the
//! server and the spool directory, and prints what works and, for what does not, the fix.
//! Exits non-zero on errors (a target or the server unreachable, missing permissions), zero
//! when only optional features are missing (warnings, with their fix).

use pganalytics_adapters::pgstats::{PgTarget, Readiness};
use pganalytics_adapters::spool::{DiskSpool, SpoolOptions};
use pganalytics_domain::config::FamilyFilter;
use pganalytics_domain::schedule::Group;
use pganalytics_ports::sources::Source;
use pganalytics_ports::spool::Spool;
use pganalytics_ports::transport::Transport;

use crate::config::AgentConfig;
use crate::identity::Identity;
use crate::process::Process;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Ok,
    Warn,
    Error,
}

#[derive(Debug)]
struct Line {
    status: Status,
    what: String,
    detail: String,
    fix: Option<String>,
}

#[derive(Debug, Default)]
struct Report(Vec<Line>);

impl Report {
    fn add(
        &mut self,
        status: Status,
        what: impl Into<String>,
        detail: impl Into<String>,
        fix: Option<String>,
    ) {
        self.0.push(Line {
            status,
            what: what.into(),
            detail: detail.into(),
            fix,
        });
    }

    fn print(&self) {
        let width = self
            .0
            .iter()
            .map(|l| l.what.len())
            .max()
            .unwrap_or(10)
            .max(10);
        println!("{:<6}  {:<width$}  DETAIL", "STATUS", "CHECK");
        for l in &self.0 {
            let status = match l.status {
                Status::Ok => "ok",
                Status::Warn => "warn",
                Status::Error => "ERROR",
            };
            println!("{status:<6}  {:<width$}  {}", l.what, l.detail);
        }
        let fixes: Vec<&Line> = self.0.iter().filter(|l| l.fix.is_some()).collect();
        if !fixes.is_empty() {
            println!("\nHow to fix:");
            for l in fixes {
                println!("  {} — {}", l.what, l.fix.as_deref().unwrap_or(""));
            }
        }
    }

    fn worst(&self) -> Status {
        self.0.iter().map(|l| l.status).max().unwrap_or(Status::Ok)
    }
}

pub fn run(config: &AgentConfig, process: &Process) -> anyhow::Result<bool> {
    let mut report = Report::default();
    if config.targets.is_empty() {
        report.add(
            Status::Error,
            "targets",
            "no PostgreSQL target is configured",
            Some(
                "add [[targets]] name/dsn to the config file, or set PGANALYTICS_AGENT_DSN".into(),
            ),
        );
    }
    for (mut target, t) in crate::sources::targets(config)
        .into_iter()
        .zip(&config.targets)
    {
        check_target(&mut target, &mut report);
        if config.tail_logs {
            check_log(t, &mut target, &config.locale_dirs, &mut report);
        }
    }
    check_host(config, &mut report);
    check_server(config, process, &mut report);
    check_spool(config, &mut report);
    report.print();
    let worst = report.worst();
    println!(
        "\n{}",
        match worst {
            Status::Ok => "Everything works.",
            Status::Warn => "Works; optional features are missing (see the fixes above).",
            Status::Error => "Errors: the agent cannot do its job until they are fixed.",
        }
    );
    Ok(worst != Status::Error)
}

fn check_target(target: &mut PgTarget, report: &mut Report) {
    let name = target.instance().to_owned();
    let ready = match target.readiness() {
        Ok(r) => r,
        Err(e @ pganalytics_adapters::pgstats::PgStatsError::Query { .. }) => {
            report.add(
                Status::Error,
                format!("{name}: connection"),
                e.detail(),
                None,
            );
            return;
        }
        Err(e) => {
            report.add(
                Status::Error,
                format!("{name}: connection"),
                e.to_string(),
                Some(
                    "check the target's dsn (host, port, user, sslmode), pg_hba.conf and \
                     ~/.pgpass; `psql '<dsn>'` must connect as the same OS user"
                        .into(),
                ),
            );
            return;
        }
    };
    report.add(
        Status::Ok,
        format!("{name}: connection"),
        format!(
            "PostgreSQL {} as {}{}",
            ready.server_version,
            ready.username,
            if ready.superuser { " (superuser)" } else { "" }
        ),
        None,
    );
    privileges(&name, &ready, report);
    for group in Group::ALL {
        for reading in target.collect(group, &FamilyFilter::all()) {
            let what = format!("{name}: {}", reading.collector);
            let ms = reading.duration.as_secs_f64() * 1000.0;
            match reading.result {
                Ok(rows) => {
                    let n: usize = rows.iter().map(|r| r.len()).sum();
                    report.add(Status::Ok, what, format!("{n} rows in {ms:.1} ms"), None);
                }
                Err(e) if reading.collector == "pg_statement" => {
                    let fix = if ready.statements_preloaded == Some(true) {
                        "run CREATE EXTENSION pg_stat_statements; in the target's database"
                    } else {
                        "add pg_stat_statements to shared_preload_libraries in postgresql.conf, \
                         restart PostgreSQL, then CREATE EXTENSION pg_stat_statements;"
                    };
                    report.add(Status::Warn, what, e.message, Some(fix.into()));
                }
                Err(e) => report.add(Status::Error, what, e.message, None),
            }
        }
    }
}

fn privileges(name: &str, ready: &Readiness, report: &mut Report) {
    let what = format!("{name}: privileges");
    if ready.superuser || ready.pg_monitor {
        let how = if ready.superuser {
            "superuser"
        } else {
            "member of pg_monitor"
        };
        report.add(Status::Ok, what, how, None);
    } else {
        report.add(
            Status::Error,
            what,
            format!(
                "{} is not in pg_monitor: other sessions' queries, sizes and settings are hidden",
                ready.username
            ),
            Some(format!("GRANT pg_monitor TO \"{}\";", ready.username)),
        );
    }
    if !ready.track_io_timing {
        report.add(
            Status::Warn,
            format!("{name}: track_io_timing"),
            "off: block read/write times stay at zero",
            Some("ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();".into()),
        );
    }
}

fn check_log(
    t: &crate::config::Target,
    target: &mut PgTarget,
    locale_dirs: &[std::path::PathBuf],
    report: &mut Report,
) {
    let what = format!("{}: server log", t.name);
    let source = match crate::logs::source(t, target, locale_dirs) {
        Ok(s) => s,
        Err(reason) => {
            report.add(Status::Warn, what, "not tailed", Some(reason));
            return;
        }
    };
    let readable = if source.path.is_dir() {
        std::fs::read_dir(&source.path).map(|_| ())
    } else {
        std::fs::File::open(&source.path).map(|_| ())
    };
    if let Err(e) = readable {
        let status = if source.explicit {
            Status::Error
        } else {
            Status::Warn
        };
        report.add(
            status,
            what,
            format!("{}: {e}", source.path.display()),
            Some(
                "let the agent's user read the log: e.g. add it to the group of the server's \
                 files and set log_file_mode = 0640 (and the directory 0750)"
                    .into(),
            ),
        );
        return;
    }
    report.add(
        Status::Ok,
        what.clone(),
        format!("{} ({:?})", source.path.display(), source.format),
        None,
    );
    match &source.catalog {
        Ok(Some(path)) => report.add(
            Status::Ok,
            format!("{}: log language", t.name),
            format!("messages read through {}", path.display()),
            None,
        ),
        Ok(None) => {}
        Err(reason) => report.add(
            Status::Warn,
            format!("{}: log language", t.name),
            "no message catalog: events get their SQLSTATE class only",
            Some(reason.clone()),
        ),
    }
    if source.format == pganalytics_domain::logs::LogFormat::Stderr {
        let missing = pganalytics_domain::logs::Prefix::missing_essentials(&source.line_prefix);
        if !missing.is_empty() {
            report.add(
                Status::Warn,
                format!("{}: log_line_prefix", t.name),
                format!("{:?} lacks {}", source.line_prefix, missing.join(" and ")),
                Some(
                    "ALTER SYSTEM SET log_line_prefix = '%m [%p] %q%u@%d '; SELECT pg_reload_conf();"
                        .into(),
                ),
            );
        }
    }
}

fn check_host(config: &AgentConfig, report: &mut Report) {
    let mut host = pganalytics_adapters::host::ProcHost {
        instance: config.host_instance(),
        roles: Vec::new(),
    };
    for group in [Group::Host, Group::Disk] {
        for reading in host.collect(group, &FamilyFilter::all()) {
            let what = format!("host: {}", reading.collector);
            match reading.result {
                Ok(rows) => {
                    let n: usize = rows.iter().map(|r| r.len()).sum();
                    report.add(Status::Ok, what, format!("{n} rows"), None);
                }
                Err(e) => report.add(Status::Error, what, e.message, None),
            }
        }
    }
}

fn check_server(config: &AgentConfig, process: &Process, report: &mut Report) {
    if let Err(e) = crate::renew::recover(&config.state_dir, config.server_url.as_deref()) {
        report.add(
            Status::Error,
            "certificate",
            format!("an interrupted renewal could not be finished: {e:#}"),
            None,
        );
    }
    let identity = match Identity::load(&config.state_dir) {
        Ok(i) => i,
        Err(e) => {
            let msg = format!("{e:#}");
            let (detail, fix) = msg.split_once("\nFix: ").unwrap_or((&msg, ""));
            report.add(
                Status::Error,
                "server",
                detail,
                Some(fix.to_owned()).filter(|f| !f.is_empty()),
            );
            return;
        }
    };
    let url = config
        .server_url
        .clone()
        .unwrap_or_else(|| identity.server_url.clone());
    if let Some((_, to)) = pganalytics_adapters::pki::validity(&identity.cert_pem) {
        let due = crate::renew::due(&identity, process.clock.now());
        report.add(
            Status::Ok,
            "certificate",
            format!(
                "valid until {to}{}",
                if due {
                    "; renewal due (the daemon renews it)"
                } else {
                    ""
                }
            ),
            None,
        );
    }
    let result = identity.transport(Some(&url)).and_then(|t| {
        t.health()?;
        // A fresh token proves the certificate is accepted and the collector not revoked.
        t.refresh_token()?;
        Ok(())
    });
    match result {
        Ok(()) => report.add(
            Status::Ok,
            "server",
            format!("{url} answers; the client certificate is accepted"),
            None,
        ),
        Err(e) => report.add(
            Status::Error,
            "server",
            format!("{url}: {e:#}"),
            Some("check server_url, the network path, and that the collector was not revoked (register again if it was)".into()),
        ),
    }
}

fn check_spool(config: &AgentConfig, report: &mut Report) {
    let dir = config.spool_dir();
    let opened = DiskSpool::open(
        &dir,
        SpoolOptions {
            max_bytes: config.spool_max_bytes,
            ..SpoolOptions::default()
        },
    );
    match opened {
        Ok(spool) => {
            let s = spool.stats();
            let free = nix::sys::statvfs::statvfs(&dir)
                .map(|v| v.blocks_available().saturating_mul(v.fragment_size()))
                .unwrap_or(0);
            let status = if free < config.spool_max_bytes {
                Status::Warn
            } else {
                Status::Ok
            };
            report.add(
                status,
                "spool",
                format!(
                    "{}: {} batches waiting ({} bytes), {} MiB free",
                    dir.display(),
                    s.records,
                    s.bytes,
                    free / (1024 * 1024)
                ),
                (status == Status::Warn).then(|| {
                    "less free space than spool_max_bytes: lower it or free space, or a long outage fills the disk".into()
                }),
            );
        }
        Err(e) => report.add(
            Status::Error,
            "spool",
            format!("{}: {e}", dir.display()),
            Some("make the state directory writable by the agent's user".into()),
        ),
    }
}
