//! Log tailing threads, one per target whose server log the agent can read, and the queue
//! that carries their events to the collecting loop.
//!
//! The queue is bounded, and a full queue pauses the tailers rather than dropping events:
//! the log file itself is the buffer. Positions travel with the events; the collecting loop
//! saves them once the batch holding those events is spooled, so a crash re-reads at most
//! what was not yet spooled and loses nothing.

use pganalytics_adapters::logs::catalog::{self, MoCatalog};
use pganalytics_adapters::logs::{LogTailer, Position, TailOptions};
use pganalytics_adapters::pgstats::{LogSettings, PgTarget};
use pganalytics_domain::logs::{
    Classifier, English, LogEvent, LogFormat, LogParser, Redaction, Zones,
};
use slog::{Logger, info, warn};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::config::{AgentConfig, Target};

/// Events waiting for the next batch before the tailers pause.
const CAPACITY: usize = 20_000;
/// Lines read between two looks at the queue and the stop flag.
const CHUNK: usize = 5_000;

/// A log to tail: which target's, where, in which format, in which language.
#[derive(Debug, Clone)]
pub struct LogSource {
    pub instance: String,
    pub path: PathBuf,
    pub format: LogFormat,
    pub line_prefix: String,
    /// Whether the operator set it (then an unreadable log is an error, not a warning).
    pub explicit: bool,
    /// The catalog its messages are read through, when the server logs in another
    /// language; `Err`: it does, and no catalog was found (the reason).
    pub catalog: Result<Option<PathBuf>, String>,
    pub zones: Zones,
}

impl LogSource {
    /// The classifier for this log: English templates, and the catalog's translations.
    pub fn classifier(&self, redaction: Redaction) -> Result<Classifier, String> {
        match &self.catalog {
            Ok(Some(path)) => Ok(Classifier::new(&MoCatalog::open(path)?, redaction)),
            _ => Ok(Classifier::new(&English, redaction)),
        }
    }
}

/// The catalog for the server's `lc_messages`: configured, or found in its installation.
fn catalog_of(
    config: Option<&crate::config::TargetLog>,
    settings: Option<&LogSettings>,
    locale_dirs: &[PathBuf],
) -> Result<Option<PathBuf>, String> {
    if let Some(path) = config.and_then(|l| l.catalog.clone()) {
        return Ok(Some(path));
    }
    let Some(s) = settings else {
        return Ok(None);
    };
    let lc = s.lc_messages.clone().unwrap_or_default();
    if catalog::languages(&lc).is_empty() {
        return Ok(None);
    }
    let mut dirs = locale_dirs.to_vec();
    dirs.extend(catalog::default_locale_dirs(None));
    catalog::find(&lc, s.major, &dirs).map(Some).ok_or_else(|| {
        format!(
            "the server logs in {lc} and no postgres-{}.mo for it was found (looked in {}): \
             set [targets.log] catalog, or locale_dirs",
            s.major,
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The log of `target`: as configured, or as the server says it writes it when that is on
/// this host. `None`: no log to tail (the reason for `check`).
pub fn source(
    config: &Target,
    target: &mut PgTarget,
    locale_dirs: &[PathBuf],
) -> Result<LogSource, String> {
    let asked = target.log_settings();
    let server_prefix = asked.as_ref().ok().and_then(|s| s.line_prefix.clone());
    let catalog = catalog_of(config.log.as_ref(), asked.as_ref().ok(), locale_dirs);
    let zones = Zones::new(asked.as_ref().map(|s| s.zones.clone()).unwrap_or_default());
    if let Some(log) = &config.log {
        return Ok(LogSource {
            instance: config.name.clone(),
            path: log.path.clone(),
            format: log.format,
            line_prefix: log
                .line_prefix
                .clone()
                .or(server_prefix)
                .unwrap_or_else(|| "%m [%p] ".into()),
            explicit: true,
            catalog,
            zones,
        });
    }
    let settings = asked.map_err(|e| format!("cannot ask the server where it logs: {e}"))?;
    let dir = settings.directory.ok_or_else(|| {
        "the server's logging_collector is off (or its log_directory is hidden from the \
         agent's role): set [targets.log] path and format, or turn logging_collector on"
            .to_owned()
    })?;
    if !dir.is_dir() {
        return Err(format!(
            "{} is not a directory on this host (is the server remote?): set [targets.log] \
             or tail_logs = false",
            dir.display()
        ));
    }
    Ok(LogSource {
        instance: config.name.clone(),
        path: dir,
        format: LogFormat::parse(settings.format).unwrap_or(LogFormat::Stderr),
        line_prefix: settings.line_prefix.unwrap_or_else(|| "%m [%p] ".into()),
        explicit: false,
        catalog,
        zones,
    })
}

/// The log sources of every target (those that have one), and the PgBouncer logs.
pub fn sources(config: &AgentConfig, log: &Logger) -> Vec<LogSource> {
    if !config.tail_logs {
        return Vec::new();
    }
    let mut targets = crate::sources::targets(config);
    let mut out: Vec<LogSource> = config
        .targets
        .iter()
        .zip(targets.iter_mut())
        .filter_map(|(t, pg)| match source(t, pg, &config.locale_dirs) {
            Ok(s) => Some(s),
            Err(reason) => {
                warn!(log, "not tailing the server log"; "instance" => &t.name, "reason" => reason);
                None
            }
        })
        .collect();
    out.extend(config.pgbouncers.iter().map(|b| LogSource {
        instance: b.name.clone(),
        path: b.log.clone(),
        format: LogFormat::Pgbouncer,
        line_prefix: String::new(),
        explicit: true,
        catalog: Ok(None),
        zones: Zones::default(),
    }));
    out
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<(String, LogEvent)>,
    positions: BTreeMap<PathBuf, Position>,
}

#[derive(Debug, Default)]
pub struct LogQueue {
    inner: Mutex<Inner>,
    drained: Condvar,
}

/// What the collecting loop takes: events per instance, and the positions to save once
/// they are spooled (state file → position).
#[derive(Debug, Default)]
pub struct Drained {
    pub events: BTreeMap<String, Vec<LogEvent>>,
    pub positions: BTreeMap<PathBuf, Position>,
}

impl LogQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Adds events read up to `position`; waits while the queue is full (unless stopping).
    fn push(
        &self,
        instance: &str,
        events: Vec<LogEvent>,
        state_file: &Path,
        position: Option<Position>,
        stop: &AtomicBool,
    ) {
        let mut inner = self.lock();
        while inner.events.len() >= CAPACITY && !stop.load(Ordering::Relaxed) {
            inner = self
                .drained
                .wait_timeout(inner, Duration::from_millis(500))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        inner
            .events
            .extend(events.into_iter().map(|e| (instance.to_owned(), e)));
        if let Some(p) = position {
            inner.positions.insert(state_file.to_owned(), p);
        }
    }

    pub fn drain(&self) -> Drained {
        let mut inner = self.lock();
        let mut out = Drained {
            positions: std::mem::take(&mut inner.positions),
            ..Drained::default()
        };
        for (instance, e) in inner.events.drain(..) {
            out.events.entry(instance).or_default().push(e);
        }
        self.drained.notify_all();
        out
    }
}

fn state_file(state_dir: &Path, instance: &str) -> PathBuf {
    state_dir
        .join("logs")
        .join(format!("{instance}.position.json"))
}

/// Saves the positions of spooled events.
pub fn save_positions(positions: &BTreeMap<PathBuf, Position>) -> std::io::Result<()> {
    for (file, pos) in positions {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        LogTailer::save(file, pos)?;
    }
    Ok(())
}

/// Starts a tailer thread for `source`.
pub fn spawn(
    source: LogSource,
    redaction: Redaction,
    state_dir: &Path,
    from_beginning: bool,
    queue: Arc<LogQueue>,
    stop: Arc<AtomicBool>,
    log: Logger,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let state = state_file(state_dir, &source.instance);
    std::thread::Builder::new()
        .name(format!("logs-{}", source.instance))
        .spawn(move || {
            tail(
                &source,
                redaction,
                &state,
                from_beginning,
                &queue,
                &stop,
                &log,
            )
        })
}

fn tail(
    source: &LogSource,
    redaction: Redaction,
    state: &Path,
    from_beginning: bool,
    queue: &LogQueue,
    stop: &AtomicBool,
    log: &Logger,
) {
    let opts = TailOptions {
        path: source.path.clone(),
        suffix: source.format.suffix().into(),
        max_line: 64 * 1024,
        from_beginning,
    };
    let mut tailer = loop {
        match LogTailer::open(opts.clone(), LogTailer::load(state)) {
            Ok(t) => break t,
            Err(e) => {
                warn!(log, "cannot open the server log; trying again in 30 s";
                    "path" => %source.path.display(), "error" => %e);
                for _ in 0..60 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    };
    info!(log, "tailing the server log"; "instance" => &source.instance,
        "path" => %source.path.display(), "format" => ?source.format);
    if let Err(reason) = &source.catalog {
        warn!(log, "the server's log language has no catalog here; its messages are classified \
            by their SQLSTATE only"; "instance" => &source.instance, "reason" => reason);
    }
    let classifier = match source.classifier(redaction.clone()) {
        Ok(c) => c,
        Err(e) => {
            warn!(log, "cannot read the message catalog; classifying in English only";
                "instance" => &source.instance, "error" => &e);
            Classifier::new(&English, redaction)
        }
    };
    info!(log, "log classifier ready"; "instance" => &source.instance,
        "templates" => classifier.templates(),
        "catalog" => source.catalog.as_ref().ok().and_then(Option::as_ref).map(|p| p.display().to_string()));
    let mut parser = LogParser::with(
        source.format,
        &source.line_prefix,
        std::sync::Arc::new(classifier),
        source.zones.clone(),
    );
    let mut last = tailer.position();
    while !stop.load(Ordering::Relaxed) {
        let mut events = Vec::new();
        let read = tailer.read(CHUNK, |line| events.extend(parser.push(line)));
        let lines = match read {
            Ok(out) => out.lines,
            Err(e) => {
                warn!(log, "reading the server log failed"; "error" => %e);
                std::thread::sleep(Duration::from_secs(5));
                continue;
            }
        };
        if lines < CHUNK {
            events.extend(parser.flush()); // the end of what is written for now
        }
        let position = tailer.position();
        if !events.is_empty() || position != last {
            queue.push(&source.instance, events, state, position.clone(), stop);
            last = position;
        }
        if lines == 0 {
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}
