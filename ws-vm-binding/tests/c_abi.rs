//! The C ABI from C: builds the static library with `--features capi`,
//! compiles `tests/c/command_channel.c` with the system `cc` against
//! `include/ws_module.h`, and runs the Command Channel pattern against a
//! tungstenite server on 127.0.0.1. Bounded in time.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Mode, Server};

/// The target directory of this test binary (`<target>/<profile>/deps/c_abi-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// Builds `libws_vm_binding.a` with the C ABI in its own target directory
/// (a nested cargo on the outer target directory would wait for its lock).
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

fn compile_c(lib: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = target_dir().join("c-abi").join("command_channel");
    let status = Command::new("cc")
        .args([
            "-std=c99",
            "-D_POSIX_C_SOURCE=199309L",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-o",
        ])
        .arg(&out)
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("tests/c/command_channel.c"))
        .arg(lib)
        .args([
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "cc failed");
    out
}

#[test]
fn c_program_runs_the_command_channel_pattern() {
    let lib = build_staticlib();
    let exe = compile_c(&lib);
    let server = Server::start(Mode::Command);
    let mut child = Command::new(&exe)
        .arg(server.url("/control"))
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
            panic!("the C program did not finish in 30 s");
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
    let expected = [
        "open(NULL)=-1",
        "send(bad)=-1",
        "open=ok",
        "on(connected)=0",
        "on(message)=0",
        "on(error)=-1",
        "on(message, WsConnected)=-1",
        "on(connected, Other)=-1",
        "delays(9)=-1",
        "delays(5)=0",
        "send(early)=-1",
        "setTimeout=0",
        "setAutoReconnect=0",
        "setAutoReconnect(bad)=-1",
        "state=connecting",
        "connected conn_matches=1",
        "send=23",
        r#"message={"id":42,"status":"started"}"#,
        "state=open",
        "ping=0",
        "close=0",
        "state=closed",
        "close(again)=-1",
    ];
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        expected,
        "stderr:\n{stderr}"
    );
    assert!(stderr.contains("9 delays given, at most 8"), "{stderr}");
    assert!(server
        .log()
        .contains(&r#"text:{"cmd":"start","id":42}"#.to_string()));
}
