//! `pganalytics-agent run`: the daemon.
//!
//! Threads: this one collects on schedule and spools each cycle's batch (compressed, fsynced)
//! before any network I/O; the sender drains the spool; a signal thread turns SIGTERM/SIGINT
//! into "finish the cycle, stop" and SIGHUP into "reload the configuration file"; an optional
//! Prometheus endpoint serves the agent's own figures.

use anyhow::Context as _;
use nix::sys::signal::{SigSet, Signal as Sig};
use pganalytics_adapters::spool::{DeadLetterDir, DiskSpool, SpoolOptions};
use pganalytics_domain::config::CollectorConfig;
use pganalytics_domain::delivery::Backoff;
use pganalytics_ports::spool::{Appended, Spool, SpoolError};
use pganalytics_ports::transport::Transport;
use pganalytics_ports::usecases::{CollectCycle, CycleReport, DeliverBatches, PollConfig};
use slog::{Logger, error, info, warn};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::AgentConfig;
use crate::identity::Identity;
use crate::outbox::{Contents, Outbox};
use crate::process::Process;
use crate::selfmetrics::SelfMetrics;
use crate::sender::{Sender, Signal};

/// Log events wait at most this long for a batch, or until there are this many.
const LOG_FLUSH_EVERY: Duration = Duration::from_secs(5);
const LOG_FLUSH_EVENTS: usize = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Stop,
    Reload,
}

/// Blocks the signals in this thread (and so in every thread spawned after) and delivers
/// them on a channel from a thread of their own.
fn signals() -> anyhow::Result<Receiver<Event>> {
    let mut set = SigSet::empty();
    for s in [Sig::SIGTERM, Sig::SIGINT, Sig::SIGHUP] {
        set.add(s);
    }
    set.thread_block().context("blocking signals")?;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            while let Ok(sig) = set.wait() {
                let event = if sig == Sig::SIGHUP {
                    Event::Reload
                } else {
                    Event::Stop
                };
                if tx.send(event).is_err() {
                    break;
                }
            }
        })
        .context("starting the signal thread")?;
    Ok(rx)
}

pub struct Daemon {
    config_file: Option<PathBuf>,
    config: AgentConfig,
    process: Process,
    log: Logger,
    started: Instant,
    metrics: Arc<SelfMetrics>,
    spool: Arc<Mutex<dyn Spool>>,
    identity: Identity,
    transport: Arc<dyn Transport>,
    outbox: Outbox,
    signal: Arc<Signal>,
    announced_config: Arc<AtomicI64>,
    server_config: Option<CollectorConfig>,
    log_queue: Arc<crate::logs::LogQueue>,
    tailers: Vec<std::thread::JoinHandle<()>>,
    tailers_stop: Arc<std::sync::atomic::AtomicBool>,
    last_log_flush: Instant,
    /// Durations from the log, per statement, until the window ends (`pg_statement_latency`).
    latency: pganalytics_domain::logs::LatencyWindow,
    latency_since: Option<time::OffsetDateTime>,
    /// The last error of each failing collector: a failure is logged when it starts or
    /// changes, and its end is logged too, rather than every cycle.
    failing: HashMap<(String, &'static str), String>,
    /// A full spool disk: logged when it starts and when it ends, not at every cycle.
    disk_full: Option<DiskFull>,
}

/// A full-disk episode: batches dropped so far, batches spooled since without a drop.
struct DiskFull {
    dropped: u64,
    clean: u32,
}

pub fn run(
    config_file: Option<&Path>,
    config: AgentConfig,
    process: Process,
) -> anyhow::Result<()> {
    // Before any thread starts (the logger's among them), so that they all inherit the mask.
    let events = signals()?;
    let (log, _flush_on_exit) = crate::logging::logger(config.log_format.as_deref());
    if let Err(e) = crate::renew::recover(&config.state_dir, config.server_url.as_deref()) {
        warn!(log, "an interrupted certificate renewal could not be finished yet"; "error" => format!("{e:#}"));
    }
    let identity = Identity::load(&config.state_dir)?;
    let transport = Arc::new(identity.transport(config.server_url.as_deref())?);
    let spool_dir = config.spool_dir();
    let spool = DiskSpool::open(
        &spool_dir,
        SpoolOptions {
            max_bytes: config.spool_max_bytes,
            ..SpoolOptions::default()
        },
    )
    .with_context(|| format!("opening the spool in {}", spool_dir.display()))?;
    let stats = spool.stats();
    info!(log, "agent starting";
        "collector_id" => %identity.collector_id, "targets" => config.targets.len(),
        "spool_dir" => %spool_dir.display(), "spooled_records" => stats.records,
        "damaged_records" => stats.damaged_records);
    let daemon = Daemon {
        config_file: config_file.map(Path::to_path_buf),
        log,
        started: Instant::now(),
        metrics: Arc::new(SelfMetrics::default()),
        spool: Arc::new(Mutex::new(spool)),
        outbox: Outbox {
            collector_id: identity.collector_id,
            ids: process.ids.clone(),
        },
        identity,
        transport,
        process,
        signal: Arc::new(Signal::default()),
        announced_config: Arc::new(AtomicI64::new(0)),
        server_config: None,
        log_queue: Arc::default(),
        tailers: Vec::new(),
        tailers_stop: Arc::default(),
        last_log_flush: Instant::now(),
        latency: Default::default(),
        latency_since: None,
        failing: HashMap::new(),
        disk_full: None,
        config,
    };
    daemon.run(&events)
}

impl Daemon {
    fn clock(&self) -> impl Fn() -> Duration + '_ {
        move || self.started.elapsed()
    }

    fn cycle(&self) -> CollectCycle {
        let mut cycle = CollectCycle::new(
            crate::sources::all(&self.config),
            self.config.intervals.clone(),
            self.started.elapsed(),
        );
        if let Some(c) = self.server_config.as_ref().filter(|c| c.set_by_operator()) {
            cycle.apply(c);
        }
        cycle
    }

    fn run(mut self, events: &Receiver<Event>) -> anyhow::Result<()> {
        let sender = self.start_sender()?;
        if let Some(addr) = self.config.prometheus_listen {
            crate::prometheus::serve(addr, self.metrics.clone(), self.log.clone())?;
        }
        let mut cycle = self.cycle();
        self.start_tailers();
        // Type=notify units: identity, spool and sender are up; collection starts.
        if let Err(e) = pganalytics_adapters::systemd::ready() {
            warn!(self.log, "could not notify systemd"; "error" => %e);
        }
        let mut next_config_poll = Duration::ZERO;
        let mut next_renewal_check = Duration::ZERO;
        let mut heartbeat_failing = false;
        loop {
            match crate::health::beat(&self.config.state_dir, self.process.clock.now()) {
                Err(e) if !heartbeat_failing => {
                    warn!(self.log, "could not write the heartbeat (health checks fail)"; "error" => %e);
                    heartbeat_failing = true;
                }
                Err(_) => {}
                Ok(()) => heartbeat_failing = false,
            }
            if self.started.elapsed() >= next_renewal_check {
                next_renewal_check = self.started.elapsed() + self.renew_if_due();
            }
            if self.started.elapsed() >= next_config_poll || self.config_announced() {
                self.poll_config(&mut cycle);
                let every = self
                    .server_config
                    .as_ref()
                    .map_or(300, |c| c.config_poll_seconds);
                next_config_poll = self.started.elapsed() + Duration::from_secs(every.into());
            }
            let longest = if self.tailers.is_empty() { 5 } else { 1 };
            let wait = cycle.next_due().saturating_sub(self.started.elapsed());
            match events.recv_timeout(wait.min(Duration::from_secs(longest))) {
                Ok(Event::Stop) => break,
                Ok(Event::Reload) => {
                    self.reload();
                    cycle = self.cycle();
                    self.stop_tailers();
                    self.start_tailers();
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let cycle_due = cycle.next_due() <= self.started.elapsed();
            let queued = self.log_queue.len();
            let logs_due = queued > 0
                && (self.last_log_flush.elapsed() >= LOG_FLUSH_EVERY || queued >= LOG_FLUSH_EVENTS);
            if !cycle_due && !logs_due {
                continue;
            }
            let at = self.process.clock.now();
            let report = if cycle_due {
                cycle.run_due(&self.clock(), at)
            } else {
                CycleReport::default()
            };
            self.metrics
                .skipped_ticks
                .store(cycle.skipped_ticks(), Ordering::Relaxed);
            self.spool_report(report, at);
        }
        pganalytics_adapters::systemd::stopping().ok();
        info!(
            self.log,
            "stopping: the cycle is spooled; the sender finishes its push"
        );
        // Events read but not yet spooled keep their position unsaved: read again next start.
        self.stop_tailers();
        self.signal.stop();
        let _ = sender.join();
        Ok(())
    }

    /// Renews the certificate when a third of its life is left; returns when to look again.
    fn renew_if_due(&mut self) -> Duration {
        let dir = &self.config.state_dir;
        if let Err(e) = crate::renew::recover(dir, self.config.server_url.as_deref()) {
            warn!(self.log, "an interrupted certificate renewal is not finished yet"; "error" => format!("{e:#}"));
            return Duration::from_secs(300);
        }
        if !crate::renew::due(&self.identity, self.process.clock.now()) {
            return Duration::from_secs(3600);
        }
        match crate::renew::renew(self.transport.as_ref(), dir) {
            Ok(renewed) => {
                info!(self.log, "client certificate renewed");
                self.identity = renewed;
                Duration::from_secs(3600)
            }
            Err(e) => {
                warn!(self.log, "certificate renewal failed; trying again in 15 minutes"; "error" => format!("{e:#}"));
                Duration::from_secs(900)
            }
        }
    }

    fn start_tailers(&mut self) {
        self.tailers_stop = Arc::default();
        for source in crate::logs::sources(&self.config, &self.log) {
            match crate::logs::spawn(
                source,
                self.config.log_redaction.to_domain(),
                &self.config.state_dir,
                self.config.logs_from_beginning,
                self.log_queue.clone(),
                self.tailers_stop.clone(),
                self.log.clone(),
            ) {
                Ok(handle) => self.tailers.push(handle),
                Err(e) => error!(self.log, "cannot start a log tailer"; "error" => %e),
            }
        }
    }

    fn stop_tailers(&mut self) {
        self.tailers_stop.store(true, Ordering::Relaxed);
        // A tailer waiting on a full queue sees the stop within half a second.
        for t in self.tailers.drain(..) {
            let _ = t.join();
        }
    }

    fn start_sender(&self) -> anyhow::Result<std::thread::JoinHandle<()>> {
        let process = self.process.clone();
        let sender = Sender {
            deliver: DeliverBatches::new(
                self.spool.clone(),
                self.transport.clone(),
                Arc::new(DeadLetterDir::new(
                    self.config.state_dir.join("dead-letter"),
                )),
                Backoff::default(),
                Box::new(move || process.draw()),
            ),
            signal: self.signal.clone(),
            metrics: self.metrics.clone(),
            announced_config: self.announced_config.clone(),
            log: self.log.clone(),
        };
        std::thread::Builder::new()
            .name("sender".into())
            .spawn(move || sender.run())
            .context("starting the sender")
    }

    fn config_announced(&self) -> bool {
        let applied = self.server_config.as_ref().map_or(0, |c| c.version);
        self.announced_config.load(Ordering::Relaxed) > applied
    }

    /// Pulls the server's configuration (conditional on the version we have).
    fn poll_config(&mut self, cycle: &mut CollectCycle) {
        let etag = self.server_config.as_ref().map(CollectorConfig::etag);
        let poll = PollConfig {
            transport: self.transport.clone(),
        };
        match poll.execute(etag.as_deref()) {
            Ok(Some(config)) => {
                if config.set_by_operator() {
                    info!(self.log, "applying the server's configuration"; "config_version" => config.version);
                    cycle.apply(&config);
                }
                self.server_config = Some(config);
            }
            Ok(None) => {}
            Err(e) => warn!(self.log, "cannot fetch the server's configuration"; "error" => %e),
        }
    }

    fn reload(&mut self) {
        match AgentConfig::load(self.config_file.as_deref()) {
            Ok(config) => {
                info!(self.log, "configuration reloaded"; "targets" => config.targets.len());
                self.config = config;
            }
            Err(e) => {
                error!(self.log, "the configuration did not reload; keeping the old one"; "error" => %e)
            }
        }
    }

    fn log_failures(&mut self, report: &CycleReport) {
        for r in &report.runs {
            let key = (r.instance.clone(), r.collector);
            match &r.error {
                Some(e) if self.failing.get(&key) != Some(e) => {
                    warn!(self.log, "a collector failed; the others go on (logged again when the error changes)";
                        "instance" => &r.instance, "collector" => r.collector, "error" => e);
                    self.failing.insert(key, e.clone());
                }
                None if self.failing.remove(&key).is_some() => {
                    info!(self.log, "a collector works again"; "instance" => &r.instance, "collector" => r.collector);
                }
                _ => {}
            }
        }
    }

    /// Logs a full spool disk once when it starts (with the OS error) and once when it has
    /// ended — `ROOM_AGAIN_AFTER` batches in a row spooled without dropping any — with how
    /// many were dropped meanwhile. On a disk that stays nearly full, a drop frees room
    /// for a cycle or two: that is the same episode, not a new one each time.
    fn note_disk_space(&mut self, appended: &anyhow::Result<Appended>) {
        const ROOM_AGAIN_AFTER: u32 = 10;
        let (dropped, pressure) = match appended {
            Ok(a) => (a.dropped, a.pressure.clone()),
            Err(e) => match e.downcast_ref::<SpoolError>() {
                Some(SpoolError::NoSpace(cause)) => (1, Some(cause.to_string())),
                _ => return,
            },
        };
        match (pressure, self.disk_full.as_mut()) {
            (Some(cause), None) => {
                error!(self.log, "the spool's disk is full: dropping the oldest batches to spool new ones";
                    "error" => cause, "dropped" => dropped, "spool_dir" => %self.config.spool_dir().display());
                self.disk_full = Some(DiskFull { dropped, clean: 0 });
            }
            (Some(_), Some(full)) => {
                full.dropped += dropped;
                full.clean = 0;
            }
            (None, Some(full)) if full.clean + 1 >= ROOM_AGAIN_AFTER => {
                info!(self.log, "the spool's disk has room again"; "dropped_while_full" => full.dropped);
                self.disk_full = None;
            }
            (None, Some(full)) => full.clean += 1,
            (None, None) => {}
        }
    }

    fn spool(&self) -> std::sync::MutexGuard<'_, dyn Spool + 'static> {
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds the log events and the agent's own figures and spools the batch before anything
    /// is sent; then saves the log positions the events were read up to.
    fn spool_report(&mut self, report: CycleReport, at: time::OffsetDateTime) {
        self.log_failures(&report);
        let drained = self.log_queue.drain();
        self.last_log_flush = Instant::now();
        for (instance, events) in &drained.events {
            for e in events {
                self.latency.observe(instance, e);
            }
        }
        let since = *self.latency_since.get_or_insert(at);
        let window = time::Duration::seconds(
            i64::try_from(self.config.latency_window_seconds.max(1)).unwrap_or(60),
        );
        let latency = if at - since >= window && !self.latency.is_empty() {
            self.latency_since = Some(at);
            self.latency.take(at)
        } else {
            Default::default()
        };
        self.metrics.record_runs(&report.runs);
        let groups: Vec<&str> = report.groups.iter().map(|g| g.as_str()).collect();
        // The agent's figures ride with the collectors' cycles, not with log-only batches.
        let own_figures = (!groups.is_empty()).then(|| {
            self.metrics.record_spool(self.spool().stats());
            &*self.metrics
        });
        let batch = self.outbox.assemble(
            at,
            Contents {
                blocks: report.blocks,
                log_events: drained.events,
                latency,
                own_figures,
            },
        );
        let appended = {
            let mut spool = self.spool();
            let id = crate::outbox::spool(&mut *spool, &batch);
            self.metrics.record_spool(spool.stats());
            id
        };
        self.note_disk_space(&appended);
        match appended {
            Ok(appended) => {
                info!(self.log, "cycle spooled"; "batch_id" => %batch.batch_id, "spool_id" => appended.id,
                    "rows" => batch.rows(), "dropped_oldest" => appended.dropped,
                    "groups" => groups.join(","));
                self.signal.notify();
                if let Err(e) = crate::logs::save_positions(&drained.positions) {
                    warn!(self.log, "cannot save the log position; some events may be sent twice after a restart"; "error" => %e);
                }
            }
            // Counted as dropped and logged once per episode by note_disk_space.
            Err(e) if matches!(e.downcast_ref(), Some(SpoolError::NoSpace(_))) => {}
            Err(e) => error!(self.log, "cannot spool the cycle's batch; it is lost"; "error" => %e),
        }
    }
}
