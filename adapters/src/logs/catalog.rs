//! PostgreSQL's gettext catalogs (`postgres-<major>.mo`) as [`Translations`] for the log
//! classifier, found where the server's installation keeps them.

use std::path::{Path, PathBuf};

use pganalytics_domain::logs::Translations;

/// One release's catalog in one language.
pub struct MoCatalog {
    catalog: gettext::Catalog,
    /// The file it came from (for `check` and the agent's log).
    pub path: PathBuf,
}

impl std::fmt::Debug for MoCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MoCatalog")
            .field("path", &self.path)
            .finish()
    }
}

impl MoCatalog {
    /// Reads a `.mo` file.
    ///
    /// # Errors
    /// When the file cannot be read or is not a catalog.
    pub fn open(path: &Path) -> Result<Self, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let catalog = gettext::Catalog::parse(std::io::BufReader::new(file))
            .map_err(|e| format!("{}: not a message catalog: {e}", path.display()))?;
        Ok(Self {
            catalog,
            path: path.to_owned(),
        })
    }
}

impl Translations for MoCatalog {
    fn forms(&self, msgid: &str, plural: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |s: &str| {
            if s != msgid && plural != Some(s) && !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        };
        match plural {
            // Every plural form the language has (one, few, many: n = 1, 2, 5).
            Some(p) => {
                for n in [1, 2, 5] {
                    add(self.catalog.ngettext(msgid, p, n));
                }
            }
            None => add(self.catalog.gettext(msgid)),
        }
        out
    }
}

/// The languages an `lc_messages` value names, most specific first:
/// `de_DE.UTF-8` → `de_DE`, `de`. `C`, `POSIX` and `en*` mean English: none.
pub fn languages(lc_messages: &str) -> Vec<String> {
    let name = lc_messages
        .split(['.', '@'])
        .next()
        .unwrap_or_default()
        .trim();
    if name.is_empty() || name == "C" || name == "POSIX" || name.starts_with("en") {
        return Vec::new();
    }
    let mut out = vec![name.to_owned()];
    if let Some((lang, _)) = name.split_once('_') {
        out.push(lang.to_owned());
    }
    out
}

/// Where PostgreSQL installations keep their catalogs: Debian and RPM packages, source
/// builds, and next to the server's binaries.
pub fn default_locale_dirs(bindir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(bin) = bindir
        && let Some(root) = bin.parent()
    {
        dirs.push(root.join("share/locale"));
        dirs.push(root.join("share/postgresql/locale"));
    }
    for d in [
        "/usr/share/locale",
        "/usr/local/pgsql/share/locale",
        "/usr/local/share/locale",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// The catalog of release `major` for `lc_messages`, the first found in `dirs`.
pub fn find(lc_messages: &str, major: u32, dirs: &[PathBuf]) -> Option<PathBuf> {
    let file = format!("postgres-{major}.mo");
    languages(lc_messages).iter().find_map(|lang| {
        dirs.iter()
            .map(|d| d.join(lang).join("LC_MESSAGES").join(&file))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lc_messages_names_its_languages() {
        assert_eq!(languages("de_DE.UTF-8"), vec!["de_DE", "de"]);
        assert_eq!(languages("fr_FR@euro"), vec!["fr_FR", "fr"]);
        assert!(languages("C").is_empty() && languages("en_US.UTF-8").is_empty());
    }
}
