//! The house rules of `docs/ARCHITECTURE.md`, checked on the source: no room
//! grows into two, and every file says what it is. (That imports follow the
//! data flow is a unit test in `src/lib.rs`.)

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The lines of `file` before its unit tests.
fn code(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with("#[cfg(test)]"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_room_holds_two() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut big: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = code(f).len();
            (n > 650).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    for entry in std::fs::read_dir(assets).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "js") {
            let n = std::fs::read_to_string(&path).unwrap().lines().count();
            if n > 550 {
                big.push(format!("{} ({n} lines)", path.display()));
            }
        }
    }
    assert!(
        big.is_empty(),
        "files past the size of one room:\n{}",
        big.join("\n")
    );
}

#[test]
fn every_file_says_what_it_is() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let silent: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            !first.starts_with("//!") && !f.ends_with("main.rs")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        silent.is_empty(),
        "files without a //! header:\n{}",
        silent.join("\n")
    );
}
