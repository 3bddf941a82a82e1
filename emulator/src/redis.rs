//! A real Redis for tests and the bench: Debian's `redis-server` binary as a child process on
//! 127.0.0.1, without persistence, on a free port.
//!
//! The plugin's `shared_state:` lets several hosts of one DingTalk app share one call budget, dedup,
//! session generations and the card journal through Redis. The multi-host tests and the bench run
//! that against this server; [`RedisServer::restart`] plays a Redis that crashed and came back empty
//! (no `save`, no append-only file), on the same port, so clients reconnect to the same URL.
//!
//! ```no_run
//! use openclaw_dingtalk_emulator::redis::RedisServer;
//!
//! let Some(mut redis) = RedisServer::start_for_test("my_test") else {
//!     return; // SKIPPED: redis-server not installed (a failure when `CI` is set)
//! };
//! let url = redis.url(); // redis://127.0.0.1:PORT/0
//! redis.restart().expect("redis-server restarts on the same port");
//! ```
//!
//! Blocking API (std processes and sockets): call it from test threads or with
//! `tokio::task::spawn_blocking`, not on an async worker. A [`RedisServer`] owns its process
//! and its scratch directory (the server's working directory and log file); dropping it kills the
//! process and removes the directory.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The binary started (found on `PATH`; Debian package `redis-server`).
pub const BINARY: &str = "redis-server";

/// How long [`RedisServer::start`] waits for the first `+PONG`.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between two readiness probes (each probe is bounded by the same time).
const PROBE_PAUSE: Duration = Duration::from_millis(20);

/// How long [`RedisServer::stop`] waits after SIGTERM before it kills the process.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Numbers the scratch directories of the servers one process starts.
static NEXT_SERVER: AtomicU64 = AtomicU64::new(1);

/// How a [`RedisServer`] is started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisConfig {
    /// `--requirepass`: clients must `AUTH` with it (the URL carries it, see
    /// [`RedisServer::url`]). `None` (the default): no password, which `--protected-mode yes`
    /// allows on loopback only.
    pub password: Option<String>,
}

/// A running `redis-server` on `127.0.0.1:port`, without persistence. Not shared between threads
/// by itself (`stop`/`restart` take `&mut self`); wrap it in a `Mutex` to restart it from another
/// thread. Dropping it kills the server.
#[derive(Debug)]
pub struct RedisServer {
    config: RedisConfig,
    port: u16,
    /// The server's working directory and log file (`redis.log`).
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Is `redis-server` on `PATH` (an executable file)?
    pub fn available() -> bool {
        find_binary().is_some()
    }

    /// Starts `redis-server` on a free loopback port without a password; returns once it answers
    /// `PING`. Fails when the binary is missing, exits, or does not answer within
    /// [`START_TIMEOUT`].
    pub fn start() -> io::Result<RedisServer> {
        RedisServer::start_with(RedisConfig::default())
    }

    /// [`RedisServer::start`] with a configuration (a password).
    pub fn start_with(config: RedisConfig) -> io::Result<RedisServer> {
        if !RedisServer::available() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{BINARY} is not on PATH: install it with `apt-get install redis-server`"),
            ));
        }
        let n = NEXT_SERVER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ocdt-redis-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        // The port is found free, released, and given to redis-server; another process taking it
        // in between makes redis-server exit, and then another port is tried.
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            let mut server = RedisServer {
                config: config.clone(),
                port,
                dir: dir.clone(),
                child: None,
            };
            match server.spawn_and_wait() {
                Ok(()) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(last_error.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    /// Starts a server for the test `test`, or says why it cannot: when `redis-server` is not
    /// installed it prints `SKIPPED: redis-server not installed` (loudly, on stderr) and returns
    /// `None` so the test can return; when the environment variable `CI` is set it panics instead
    /// (CI installs it, `.ci/run`). Panics when the installed server does not start.
    pub fn start_for_test(test: &str) -> Option<RedisServer> {
        RedisServer::start_for_test_with(test, RedisConfig::default())
    }

    /// [`RedisServer::start_for_test`] with a configuration (a password).
    pub fn start_for_test_with(test: &str, config: RedisConfig) -> Option<RedisServer> {
        if !RedisServer::available() {
            let msg = format!(
                "{BINARY} is not on PATH: {test} needs a real Redis; install it with \
                 `apt-get install redis-server`"
            );
            if std::env::var_os("CI").is_some() {
                panic!("{msg}");
            }
            let _ = writeln!(
                io::stderr(),
                "\n!!! SKIPPED: redis-server not installed ({test}): {msg} !!!\n"
            );
            return None;
        }
        match RedisServer::start_with(config) {
            Ok(server) => Some(server),
            Err(e) => panic!("{test}: redis-server did not start: {e}"),
        }
    }

    /// The port it listens on (127.0.0.1), the same across [`RedisServer::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/0`, with the password (`redis://:PASSWORD@127.0.0.1:PORT/0`,
    /// percent-encoded) when it has one.
    pub fn url(&self) -> String {
        match &self.config.password {
            Some(password) => format!(
                "redis://:{}@127.0.0.1:{}/0",
                percent_encoded(password),
                self.port
            ),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Is it running and answering `PING`?
    pub fn is_up(&self) -> bool {
        self.child.is_some() && ping(self.port, self.config.password.as_deref()).is_ok()
    }

    /// The server's log so far (its `redis.log`), for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Stops it: SIGTERM, then waits for the exit (SIGKILL after 10 s). Without persistence its
    /// data is gone. Stopping a stopped server does nothing.
    pub fn stop(&mut self) -> io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !term.is_ok_and(|s| s.success()) {
            let _ = child.kill();
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                child.kill()?;
                child.wait()?;
                return Ok(());
            }
            std::thread::sleep(PROBE_PAUSE);
        }
    }

    /// Stops it and starts it again on the same port: every key is lost, as after a crash of a
    /// Redis without persistence. Returns once it answers `PING` again.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.spawn_and_wait()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// Spawns `redis-server` on `self.port` and waits until it answers `PING`.
    fn spawn_and_wait(&mut self) -> io::Result<()> {
        let binary = find_binary().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("{BINARY} is not on PATH"))
        })?;
        let mut command = Command::new(binary);
        command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--protected-mode", "yes"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.log_path());
        if let Some(password) = &self.config.password {
            command.args(["--requirepass", password]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "redis-server on 127.0.0.1:{} exited at start ({status}); its log:\n{}",
                    self.port,
                    tail(&self.log(), 20)
                )));
            }
            match ping(self.port, self.config.password.as_deref()) {
                Ok(()) => {
                    self.child = Some(child);
                    return Ok(());
                }
                Err(e) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "redis-server on 127.0.0.1:{} did not answer PING within {} s \
                             (last: {e}); its log:\n{}",
                            self.port,
                            START_TIMEOUT.as_secs(),
                            tail(&self.log(), 20)
                        ),
                    ));
                }
                Err(_) => std::thread::sleep(PROBE_PAUSE),
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `redis-server` on `PATH`.
fn find_binary() -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(BINARY))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// A port that was free on 127.0.0.1 a moment ago.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// One readiness probe: connect, (`AUTH password`,) `PING`, expect `+PONG`. Bounded by
/// [`PROBE_PAUSE`] for the connect and each read.
fn ping(port: u16, password: Option<&str>) -> io::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream =
        TcpStream::connect_timeout(&addr, PROBE_PAUSE.max(Duration::from_millis(200)))?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    stream.set_write_timeout(Some(Duration::from_millis(200)))?;
    let mut expected = String::new();
    if let Some(password) = password {
        // RESP array form, so a password with spaces or quotes goes as it is.
        let auth = format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{password}\r\n", password.len());
        stream.write_all(auth.as_bytes())?;
        expected.push_str("+OK\r\n");
    }
    stream.write_all(b"PING\r\n")?;
    expected.push_str("+PONG\r\n");
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    while answer.len() < expected.len() {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    if answer == expected {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "PING answered {:?}",
            answer.trim_end()
        )))
    }
}

/// `text` with every byte but the URL's unreserved characters (`A-Z a-z 0-9 - . _ ~`) written
/// `%XX`, as a URL's user information may hold it.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_ping_restarts_on_the_same_port_and_stops() {
        let Some(mut redis) = RedisServer::start_for_test("redis::tests::starts") else {
            return;
        };
        let port = redis.port();
        assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}/0"));
        assert!(redis.is_up());
        ping(port, None).expect("PONG");

        // A key set before the restart is gone after it: no persistence.
        assert_eq!(command(port, "SET 钉钉 卡片"), "+OK\r\n");
        assert_eq!(command(port, "GET 钉钉"), "$6\r\n卡片\r\n");
        let pid = redis.pid();
        redis.restart().expect("restart");
        assert_eq!(redis.port(), port, "the same port after a restart");
        assert_ne!(redis.pid(), pid, "a new process");
        assert!(redis.is_up());
        assert_eq!(command(port, "GET 钉钉"), "$-1\r\n", "data lost");

        redis.stop().expect("stop");
        assert!(!redis.is_up());
        assert!(ping(port, None).is_err(), "nothing listens after stop");
        redis.stop().expect("stopping twice is fine");
    }

    #[test]
    fn a_password_is_required_and_carried_in_the_url() {
        let config = RedisConfig {
            password: Some("口令 p@ss".into()),
        };
        let Some(redis) = RedisServer::start_for_test_with("redis::tests::password", config) else {
            return;
        };
        let port = redis.port();
        assert_eq!(
            redis.url(),
            format!("redis://:%E5%8F%A3%E4%BB%A4%20p%40ss@127.0.0.1:{port}/0")
        );
        assert!(redis.is_up());
        assert!(
            command(port, "PING").starts_with("-NOAUTH"),
            "PING without AUTH is refused"
        );
        let dir = redis.dir.clone();
        drop(redis);
        assert!(ping(port, Some("口令 p@ss")).is_err(), "killed on drop");
        assert!(!dir.exists(), "its directory removed");
    }

    /// Sends one inline command; returns the first answer.
    fn command(port: u16, line: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).expect("answer");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}
