//! A real `redis-server` (the Debian package `redis-server`; `.ci/run` installs it) on a free
//! loopback port, started by the test that needs it: kill it, restart it on the same port,
//! pause it (SIGSTOP) and resume it. No persistence: a restart starts empty, as a crashed
//! cache does.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    bin: PathBuf,
    port: u16,
    child: Option<Child>,
    stopped: bool,
}

/// Where the binary is: `PATH`, then the Debian location.
fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(bin: &Path, port: u16) -> Child {
    Command::new(bin)
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--daemonize", "no", "--protected-mode", "yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts")
}

/// Whether a Redis answers PING on `port`.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(stream.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

impl RedisServer {
    /// A new server on a free port, or `None` (with a message saying why the test is
    /// skipped) when `redis-server` is not installed.
    pub fn start(test: &str) -> Option<Self> {
        let Some(bin) = find("redis-server") else {
            eprintln!(
                "SKIPPED {test}: redis-server is not installed (Debian package redis-server; \
                 .ci/run installs it with apt-get)"
            );
            return None;
        };
        // Another test may take the port between our probe and Redis's bind: try again.
        for _ in 0..5 {
            let port = free_port();
            let mut server = RedisServer {
                bin: bin.clone(),
                port,
                child: Some(spawn(&bin, port)),
                stopped: false,
            };
            if server.wait_ready() {
                return Some(server);
            }
            server.kill();
        }
        panic!("redis-server did not start");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = &mut self.child {
                if let Ok(Some(_)) = child.try_wait() {
                    return false;
                }
            }
            if answers(self.port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn pid(&self) -> String {
        self.child.as_ref().expect("running").id().to_string()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal}");
    }

    /// SIGKILL: gone at once, connections reset, state lost.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.stopped {
                let _ = Command::new("kill")
                    .args(["-CONT", &child.id().to_string()])
                    .status();
                self.stopped = false;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A new, empty server on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Some(spawn(&self.bin, self.port));
        assert!(self.wait_ready(), "redis-server restarts on its port");
    }

    /// SIGSTOP: connections stay open, nothing answers.
    pub fn pause(&mut self) {
        self.signal("-STOP");
        self.stopped = true;
    }

    /// SIGCONT.
    pub fn resume(&mut self) {
        self.signal("-CONT");
        self.stopped = false;
    }

    /// `redis-cli` on this server (the Debian package brings it); its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out =
            Command::new(find("redis-cli").expect("redis-cli is installed with redis-server"))
                .args(["-p", &self.port.to_string()])
                .args(args)
                .output()
                .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
