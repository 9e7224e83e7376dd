//! The command line as an operator meets it: every subcommand finds the
//! data directory `serve` uses (`--data-dir`, `VITRINE_DATA_DIR`), commands
//! on an existing installation never create an empty one, settings are
//! validated (log filters, durations with units), `--help` lists roles, and
//! logs carry no colour codes nor migration noise when nothing is pending.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use vitrine_tests::vitrine_binary;

fn vitrine(cwd: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut command = Command::new(vitrine_binary());
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("vitrine runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn subcommands_share_the_data_directory_and_never_create_an_empty_one() {
    let root = std::env::temp_dir().join(format!("vitrine-cli-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&root).unwrap();
    let data = root.join("served");

    // In a directory without a database: named, exit 2, nothing created.
    for args in [
        vec![
            "admin",
            "create-user",
            "--email",
            "a@example.com",
            "--role",
            "ADMIN",
        ],
        vec!["audit", "verify"],
        vec!["usage", "rollup"],
    ] {
        let out = vitrine(&root, &args, &[], "a long passphrase here\n");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("no database at ./data/vitrine.sqlite"),
            "{stderr}"
        );
        assert!(
            !root.join("data/vitrine.sqlite").exists(),
            "{args:?} created a database"
        );
    }

    // `migrate` creates it; a second run has nothing to say.
    let dir = data.to_str().unwrap();
    let out = vitrine(&root, &["--data-dir", dir, "migrate"], &[], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = vitrine(&root, &["--data-dir", dir, "migrate"], &[], "");
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("Applying"), "noise: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a pipe: {stderr:?}"
    );

    // The flag and the variable reach the same installation.
    let out = vitrine(
        &root,
        &[
            "--data-dir",
            dir,
            "admin",
            "create-user",
            "--email",
            "a@example.com",
            "--role",
            "admin",
        ],
        &[],
        "a long passphrase here\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = vitrine(
        &root,
        &["audit", "verify"],
        &[("VITRINE_DATA_DIR", dir)],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("audit chain OK"),
        "{}",
        text(&out.stdout)
    );

    // Roles are listed; a wrong one is refused with them.
    let out = vitrine(&root, &["admin", "create-user", "--help"], &[], "");
    let help = text(&out.stdout);
    assert!(
        help.contains("ADMIN, MANAGER, EDITOR, CONTRIBUTOR, VIEWER"),
        "{help}"
    );
    let out = vitrine(
        &root,
        &[
            "--data-dir",
            dir,
            "admin",
            "create-user",
            "--email",
            "b@example.com",
            "--role",
            "OWNER",
        ],
        &[],
        "x\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("possible values"),
        "{}",
        text(&out.stderr)
    );

    // Settings are validated before anything runs.
    for (key, value, says) in [
        ("VITRINE_LOG", "info,[[[", "is not a log filter"),
        ("VITRINE_SESSION_TTL", "90", "with a unit"),
        ("VITRINE_CORS_ALLOWED_ORIGINS", "*", "wildcard"),
    ] {
        let out = vitrine(&root, &["--data-dir", dir, "migrate"], &[(key, value)], "");
        assert_eq!(out.status.code(), Some(2), "{key}={value}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(key) && stderr.contains(says), "{stderr}");
    }
    std::fs::remove_dir_all(&root).ok();
}
