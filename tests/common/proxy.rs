//! A proxy in front of the engine's socket that a test can cut: every connection through it is shut down and
//! the socket disappears for a while (as when the daemon restarts or the socket is lost), then it comes back.
//! The tool under test is pointed at it with `DOCKER_HOST=unix://…`; the test's own docker CLI calls go to the
//! real socket.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The engine socket the proxy forwards to.
const ENGINE: &str = "/var/run/docker.sock";

struct State {
    /// Both ends of every live connection, to shut them down on a cut.
    live: Mutex<Vec<UnixStream>>,
    /// Until when the proxy is cut.
    cut_until: Mutex<Option<Instant>>,
    stop: AtomicBool,
}

/// A running proxy; stops when dropped.
pub struct EngineProxy {
    path: PathBuf,
    state: Arc<State>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EngineProxy {
    /// Listens on `dir/engine.sock`.
    pub fn start(dir: &Path) -> Self {
        let path = dir.join("engine.sock");
        let state = Arc::new(State {
            live: Mutex::new(Vec::new()),
            cut_until: Mutex::new(None),
            stop: AtomicBool::new(false),
        });
        let (p, s) = (path.clone(), Arc::clone(&state));
        let thread = std::thread::spawn(move || serve(&p, &s));
        super::poll("the proxy's socket", Duration::from_secs(5), || {
            path.exists().then_some(())
        });
        EngineProxy {
            path,
            state,
            thread: Some(thread),
        }
    }

    /// `DOCKER_HOST` for the tool.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Cuts every connection and removes the socket for `how_long`.
    pub fn cut(&self, how_long: Duration) {
        *self.state.cut_until.lock().unwrap() = Some(Instant::now() + how_long);
        for s in self.state.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for EngineProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for s in self.state.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn bind(path: &Path) -> UnixListener {
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path).expect("the proxy binds its socket");
    l.set_nonblocking(true).expect("nonblocking");
    l
}

fn serve(path: &Path, state: &Arc<State>) {
    let mut listener = Some(bind(path));
    while !state.stop.load(Ordering::SeqCst) {
        let cut = *state.cut_until.lock().unwrap();
        match cut {
            Some(until) if Instant::now() < until => {
                if listener.take().is_some() {
                    let _ = std::fs::remove_file(path);
                }
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Some(_) => {
                *state.cut_until.lock().unwrap() = None;
                listener = Some(bind(path));
            }
            None => {}
        }
        let Some(l) = &listener else { continue };
        match l.accept() {
            Ok((client, _)) => {
                let Ok(upstream) = UnixStream::connect(ENGINE) else {
                    continue;
                };
                let _ = client.set_nonblocking(false);
                {
                    let mut live = state.live.lock().unwrap();
                    for s in [&client, &upstream] {
                        if let Ok(c) = s.try_clone() {
                            live.push(c);
                        }
                    }
                }
                pipe(&client, &upstream);
                pipe(&upstream, &client);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let _ = std::fs::remove_file(path);
}

/// Copies `from` to `to` on a thread until either end closes.
fn pipe(from: &UnixStream, to: &UnixStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}
