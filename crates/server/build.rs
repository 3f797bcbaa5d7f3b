//! Builds the web app (`web/` → `web/dist`) with npm when its sources change, so that
//! `cargo run -- demo` works from a fresh clone. `WANGGE_SKIP_WEB_BUILD=1` embeds whatever
//! `web/dist` holds (for Rust-only work).

use std::path::Path;
use std::process::Command;

fn main() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let dist = web.join("dist");
    println!("cargo:rerun-if-env-changed=WANGGE_SKIP_WEB_BUILD");
    for p in [
        "src",
        "m",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "scripts",
        "public",
        "tsconfig.json",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(p).display());
    }
    let skip = std::env::var("WANGGE_SKIP_WEB_BUILD").is_ok_and(|v| !v.is_empty() && v != "0");
    if skip || !web.join("package.json").exists() {
        let _ = std::fs::create_dir_all(&dist);
        return;
    }
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    let stale = match (
        std::fs::metadata(&lock).and_then(|m| m.modified()),
        std::fs::metadata(&installed).and_then(|m| m.modified()),
    ) {
        (Ok(l), Ok(i)) => l > i,
        _ => true,
    };
    if stale {
        run(
            Command::new(npm)
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&web),
            "npm ci",
        );
    }
    run(
        Command::new(npm).args(["run", "build"]).current_dir(&web),
        "npm run build",
    );
}

fn run(cmd: &mut Command, what: &str) {
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => {
            println!(
                "cargo:warning={what} failed with {s}; set WANGGE_SKIP_WEB_BUILD=1 to build without the web app"
            );
            std::process::exit(1);
        }
        Err(e) => {
            println!("cargo:warning={what} could not start ({e}); install Node.js 20+ and npm");
            std::process::exit(1);
        }
    }
}
