use super::*;
use std::io::Write;

fn opts(path: &Path, from_beginning: bool) -> TailOptions {
    TailOptions {
        path: path.to_owned(),
        suffix: ".log".into(),
        max_line: 64,
        from_beginning,
    }
}

fn append(path: &Path, text: &str) {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Makes `path` look `secs` older than now, as an earlier log file is.
fn backdate(path: &Path, secs: u64) {
    let f = fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(secs))
        .unwrap();
}

fn lines(t: &mut LogTailer) -> (Vec<String>, ReadOutcome) {
    let mut got = Vec::new();
    let out = t.read(1000, |l| got.push(l.to_owned())).unwrap();
    (got, out)
}

#[test]
fn lines_come_out_once_and_a_partial_line_waits_for_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.log");
    append(&f, "one\ntwo\nthr");
    let mut t = LogTailer::open(opts(&f, true), None).unwrap();
    assert_eq!(lines(&mut t).0, ["one", "two"]);
    assert_eq!(t.position().unwrap().offset, 8);
    append(&f, "ee\n");
    assert_eq!(lines(&mut t).0, ["three"]);
    assert!(lines(&mut t).0.is_empty());
}

#[test]
fn a_first_start_skips_history_and_a_restart_resumes_where_it_was_saved() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.log");
    let state = dir.path().join("pos.json");
    append(&f, "old\n");
    let mut t = LogTailer::open(opts(&f, false), None).unwrap();
    append(&f, "new\n");
    assert_eq!(lines(&mut t).0, ["new"]);
    LogTailer::save(&state, &t.position().unwrap()).unwrap();
    append(&f, "after\n");
    drop(t);
    let mut t = LogTailer::open(opts(&f, false), LogTailer::load(&state)).unwrap();
    assert_eq!(lines(&mut t).0, ["after"]);
}

#[test]
fn a_directory_is_followed_across_rotation_and_a_renamed_file_is_found_again() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("postgresql-1.log");
    append(&first, "a\n");
    let mut t = LogTailer::open(opts(dir.path(), true), None).unwrap();
    assert_eq!(lines(&mut t).0, ["a"]);
    let saved = t.position().unwrap();
    append(&first, "b\n");
    backdate(&first, 10);
    let second = dir.path().join("postgresql-2.log");
    append(&second, "c\n");
    let (got, out) = lines(&mut t);
    assert_eq!(got, ["b", "c"], "the old file is finished first");
    assert!(out.switched);

    // Restart from the old position after the old file was renamed: found by inode.
    fs::rename(&first, dir.path().join("postgresql-1.log.old")).unwrap();
    let mut again = LogTailer::open(opts(dir.path(), true), Some(saved)).unwrap();
    assert_eq!(
        lines(&mut again).0,
        ["b", "c"],
        "the renamed file resumes at its offset, then the newer file follows"
    );
}

#[test]
fn a_fixed_path_survives_rename_and_recreate_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("postgresql.log");
    append(&f, "a\n");
    let mut t = LogTailer::open(opts(&f, true), None).unwrap();
    assert_eq!(lines(&mut t).0, ["a"]);
    append(&f, "b\n");
    fs::rename(&f, dir.path().join("postgresql.log.1")).unwrap();
    append(&f, "c: a longer line\n");
    assert_eq!(lines(&mut t).0, ["b", "c: a longer line"]);

    // copytruncate: the same file, emptied, written again (shorter than what was read; a
    // file rewritten past the old offset between two reads cannot be told from growth).
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&f)
        .unwrap();
    append(&f, "d\n");
    let (got, out) = lines(&mut t);
    assert_eq!(got, ["d"]);
    assert!(out.switched);
}

#[test]
fn a_huge_line_is_cut_without_being_held_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.log");
    let mut file = fs::File::create(&f).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..64 {
        file.write_all(&chunk).unwrap(); // one 64 MiB line
    }
    file.write_all(b"\nnext\n").unwrap();
    let mut t = LogTailer::open(opts(&f, true), None).unwrap();
    let (got, out) = lines(&mut t);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].len(), 64, "cut at max_line");
    assert_eq!(got[1], "next");
    assert_eq!(out.cut, 1);
    assert!(t.partial.capacity() < 1 << 20);
}

#[test]
fn from_the_beginning_reads_every_file_of_the_directory_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    append(&dir.path().join("postgresql-1.log"), "a\n");
    backdate(&dir.path().join("postgresql-1.log"), 10);
    append(&dir.path().join("postgresql-2.log"), "b\n");
    let mut t = LogTailer::open(opts(dir.path(), true), None).unwrap();
    assert_eq!(lines(&mut t).0, ["a", "b"]);
    let mut at_end = LogTailer::open(opts(dir.path(), false), None).unwrap();
    assert!(lines(&mut at_end).0.is_empty());
}
