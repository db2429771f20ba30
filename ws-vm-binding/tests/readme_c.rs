//! The README's C example, as a reader would build it: the one ```c block
//! of the workspace README is compiled with the system `cc` against
//! `include/ws_module.h` and the static library (`--features capi`), then
//! run against an echo server on 127.0.0.1. Bounded in time.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Mode, Server};

/// The target directory of this test binary (`<target>/<profile>/deps/readme_c-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// Builds `libws_vm_binding.a` with the C ABI in its own target directory, the
/// one the `c_abi` test uses (a nested cargo on the outer one would wait for
/// its lock).
fn build_staticlib() -> PathBuf {
    let dir = target_dir().join("c-abi");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--lib",
            "--no-default-features",
            "--features",
            "capi",
            "--manifest-path",
        ])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "cargo build --features capi failed");
    let lib = dir.join("debug").join("libws_vm_binding.a");
    assert!(lib.exists(), "{} missing", lib.display());
    lib
}

/// The text of the README's only ```c block.
fn readme_c_block() -> String {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    let blocks: Vec<&str> = text
        .split("\n```c\n")
        .skip(1)
        .map(|rest| rest.split("\n```\n").next().unwrap())
        .collect();
    assert_eq!(blocks.len(), 1, "expected one ```c block in the README");
    format!("{}\n", blocks[0])
}

#[test]
fn the_readme_c_example_builds_links_and_echoes() {
    let lib = build_staticlib();
    let dir = target_dir().join("c-abi");
    let src = dir.join("readme_echo.c");
    std::fs::write(&src, readme_c_block()).unwrap();
    let exe = dir.join("readme_echo");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The flags the README gives, plus warnings as errors.
    let status = Command::new("cc")
        .args([
            "-std=c99",
            "-D_POSIX_C_SOURCE=199309L",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
        ])
        .arg(root.join("include"))
        .arg(&src)
        .arg(&lib)
        .args([
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
            "-o",
        ])
        .arg(&exe)
        .status()
        .unwrap();
    assert!(status.success(), "cc failed on the README's C block");

    let server = Server::start(Mode::Echo);
    let mut child = Command::new(&exe)
        .arg(server.url("/"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the README's C example did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        status.success(),
        "exit {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(stdout, "hello\n", "stderr:\n{stderr}");
}
