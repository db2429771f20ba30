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

fn compile_c(lib: &Path, name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = target_dir().join("c-abi").join(name);
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
        .arg(root.join(format!("tests/c/{name}.c")))
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

/// Runs `exe url` for at most 30 s; returns (success, stdout, stderr).
fn run(exe: &Path, url: &str) -> (bool, String, String) {
    let mut child = Command::new(exe)
        .arg(url)
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
    (status.success(), stdout, stderr)
}

#[test]
fn c_program_runs_the_command_channel_pattern() {
    let lib = build_staticlib();
    let exe = compile_c(&lib, "command_channel");
    let server = Server::start(Mode::Command);
    let (_, stdout, stderr) = run(&exe, &server.url("/control"));
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

#[test]
fn c_program_sends_binary_and_closes_with_a_code() {
    let lib = build_staticlib();
    let exe = compile_c(&lib, "binary_close");
    let server = Server::start(Mode::Echo);
    let (_, stdout, stderr) = run(&exe, &server.url("/"));
    let expected = [
        "hashes=1",
        "before_init=-1 err=11",
        "init_ex(bad)=-1 err=11",
        "old_handle_send=-1 err=1",
        "open_with(bad name)=-1 err=5",
        "open_with(10000 headers)=-1 err=5",
        "open_with(null headers)=-1 err=5",
        "open_with=ok unique=1",
        "on=000",
        "on(message, CLOSED)=-1 err=7",
        "keepalive(-1)=-1 err=5",
        "keepalive=0 err=0",
        "connected protocol=chat.v2",
        "send_binary=5",
        "send_text_len=3",
        "bytes conn_matches=1 len=5 hex=00010200ff",
        "bytes conn_matches=1 len=3 hex=610062",
        "send_binary(2 MiB)=-1 err=4",
        "send_text_len(bad utf8)=-1 err=5",
        "close_with(999)=-1 err=5",
        "state=open",
        "close_with(4000)=0 err=0",
        "disconnected conn_matches=1 code=4000 reason=bye",
        "close(again)=-1 err=1",
    ];
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        expected,
        "stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("max_connections 0 is not 1 to 16"),
        "{stderr}"
    );
    assert!(
        stderr.contains("over the limit of 1048576 bytes (max_message_size)"),
        "{stderr}"
    );
    assert!(stderr.contains("10000 headers"), "{stderr}");
    let log = server.log();
    for line in [
        "x-token:c-token",
        "protocol:chat.v2",
        "binary:5",
        "close:4000",
    ] {
        assert!(log.contains(&line.to_string()), "{line} not in {log:?}");
    }
}
