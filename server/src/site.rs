//! Finding the built site (WASM, JS, CSS, `public/`) so the release binary
//! runs from any working directory.

use std::path::{Path, PathBuf};

/// `LEPTOS_SITE_ROOT` when set; else `site/` beside the binary or one level up
/// (`target/release/purple-cross` finds `target/site`); else `target/site`
/// under the working directory.
pub fn site_root() -> PathBuf {
    if let Ok(root) = std::env::var("LEPTOS_SITE_ROOT") {
        let p = PathBuf::from(root);
        return std::fs::canonicalize(&p).unwrap_or(p);
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| std::fs::canonicalize(e).ok())
        .and_then(|e| e.parent().map(Path::to_path_buf));
    if let Some(dir) = exe_dir {
        for candidate in [dir.join("site"), dir.join("../site")] {
            if candidate.join("pkg").is_dir() {
                return std::fs::canonicalize(&candidate).unwrap_or(candidate);
            }
        }
    }
    PathBuf::from("target/site")
}
