//! Per-core workers: one thread per core, each with its own single-threaded tokio runtime,
//! serving the client connections handed to it — the way nginx's worker processes run.
//!
//! A connection, its requests, their upstream connections (kept per thread: see
//! [`crate::upstream::client`]) and every task they wake all stay on one thread. With tokio's
//! work-stealing scheduler, a request woke tasks on other threads at each step (client read,
//! upstream write, upstream read, client write) and idle workers were woken to steal them: on
//! a 2-core machine that was a quarter of the proxy's CPU time in context switches.
//!
//! The accept loops run on threads of their own (see [`crate::accept`]) and hand each accepted
//! socket to the worker with the fewest open connections, which registers it with its reactor
//! (one `epoll_ctl`, once per connection, not per request).
//!
//! One more worker serves only the priority classes' connections (staff networks, known from
//! the socket's peer): under a flood the other workers' queues are long, every request on them
//! waits for the CPU behind thousands of flood requests, and staff would too. On a worker of
//! their own they wait for nothing but the kernel's scheduler, which runs a thread that wakes
//! rarely ahead of the busy ones — sooner still with the short slice these two workers ask for
//! (see [`crate::sched`]). And one serves clearance holders, who proved they are
//! browsers: apart from staff, so that a crowd of them (or a botnet that paid for clearances)
//! cannot slow staff down, and apart from the flood. Staff known by a session cookie and
//! clearance holders are recognised by their first request head; see
//! [`crate::listener`] for how a connection gets to their worker while the shield defends.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

/// A connection for a worker: a socket taken out of the accept loop's reactor, and what to do
/// with it once it is in the worker's.
pub type Job = Box<dyn FnOnce(tokio::net::TcpStream, SocketAddr, Load) + Send>;

/// Which worker a connection is served on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// One of the per-core workers, the one with the fewest open connections.
    Shared,
    /// The priority classes' worker (staff).
    Priority,
    /// The clearance holders' worker.
    Cleared,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Shared => "shared",
            Class::Priority => "priority",
            Class::Cleared => "cleared",
        }
    }
}

thread_local! {
    static CURRENT: Cell<Option<Class>> = const { Cell::new(None) };
}

/// The class of the worker this code runs on; `None` off the workers.
pub fn current() -> Option<Class> {
    CURRENT.with(Cell::get)
}

struct Worker {
    jobs: mpsc::UnboundedSender<(std::net::TcpStream, SocketAddr, Job)>,
    open: Arc<AtomicUsize>,
}

/// The worker threads. Dropping this ends them once their connections have ended.
pub struct Workers {
    workers: Vec<Worker>,
    priority: Worker,
    cleared: Worker,
}

/// Counts one open connection against its worker until dropped.
pub struct Load(Arc<AtomicUsize>);

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Worker {
    fn start(name: String, class: Class) -> std::io::Result<Worker> {
        let (tx, mut rx) = mpsc::unbounded_channel::<(std::net::TcpStream, SocketAddr, Job)>();
        let open = Arc::new(AtomicUsize::new(0));
        let load = Arc::clone(&open);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new().name(name).spawn(move || {
            CURRENT.with(|c| c.set(Some(class)));
            if class == Class::Shared {
                // Whatever the thread that started it asked for (the accept thread's short
                // slice, when the first connection starts the workers): see crate::sched.
                crate::sched::use_default_slice();
            } else {
                // Few, short tasks that must not wait behind the shared workers' flood.
                crate::sched::prefer_low_latency();
            }
            runtime.block_on(async move {
                // This thread's kept-alive upstream connections (thread-local) are its to close.
                tokio::spawn(crate::upstream::client::sweep_idle_forever());
                tokio::spawn(crate::runtime::forget_cached_runtime_forever());
                while let Some((stream, peer, job)) = rx.recv().await {
                    match tokio::net::TcpStream::from_std(stream) {
                        Ok(stream) => job(stream, peer, Load(Arc::clone(&load))),
                        Err(e) => {
                            load.fetch_sub(1, Ordering::Relaxed);
                            tracing::warn!(error = %e, "cannot register a connection with its worker");
                        }
                    }
                }
            });
        })?;
        Ok(Worker { jobs: tx, open })
    }
}

impl Workers {
    /// Start `n` workers (at least one), the priority worker and the clearance holders'.
    pub fn start(n: usize) -> std::io::Result<Workers> {
        let workers =
            (0..n.max(1)).map(|i| Worker::start(format!("rampart-worker-{i}"), Class::Shared)).collect::<Result<_, _>>()?;
        Ok(Workers {
            workers,
            priority: Worker::start("rampart-priority".into(), Class::Priority)?,
            cleared: Worker::start("rampart-cleared".into(), Class::Cleared)?,
        })
    }

    /// One worker per core.
    pub fn per_core() -> std::io::Result<Workers> {
        Workers::start(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
    }

    /// How many worker threads run.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Hand `stream` to the worker of `class` (for [`Class::Shared`], the one with the fewest
    /// open connections); `job` runs there, inside its runtime (it spawns the connection's
    /// task). `stream` must be non-blocking and not registered with any runtime.
    pub fn dispatch(&self, stream: std::net::TcpStream, peer: SocketAddr, class: Class, job: Job) {
        let worker = match class {
            Class::Priority => &self.priority,
            Class::Cleared => &self.cleared,
            Class::Shared => {
                let Some(w) = self.workers.iter().min_by_key(|w| w.open.load(Ordering::Relaxed)) else { return };
                w
            }
        };
        worker.open.fetch_add(1, Ordering::Relaxed);
        if worker.jobs.send((stream, peer, job)).is_err() {
            worker.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connections_are_served_on_the_workers_and_spread() {
        let workers = Workers::start(2).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        for _ in 0..4 {
            clients.push(tokio::net::TcpStream::connect(addr).await.unwrap());
            let (stream, peer) = listener.accept().await.unwrap();
            workers.dispatch(
                stream.into_std().unwrap(),
                peer,
                Class::Shared,
                Box::new(|mut stream, _, load| {
                    tokio::spawn(async move {
                        let _load = load;
                        let name = std::thread::current().name().unwrap_or("").to_string();
                        stream.write_all(name.as_bytes()).await.unwrap();
                        let mut rest = [0u8; 1];
                        let _ = stream.read(&mut rest).await;
                    });
                }),
            );
        }
        let mut names = Vec::new();
        for c in &mut clients {
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf).await.unwrap();
            names.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        names.sort();
        assert_eq!(names, ["rampart-worker-0", "rampart-worker-0", "rampart-worker-1", "rampart-worker-1"]);
        drop(clients);
    }

    #[tokio::test]
    async fn priority_and_cleared_connections_get_their_own_workers() {
        let workers = Workers::start(2).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        for (class, name) in [(Class::Priority, "rampart-priority priority"), (Class::Cleared, "rampart-cleared cleared")] {
            let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (stream, peer) = listener.accept().await.unwrap();
            workers.dispatch(
                stream.into_std().unwrap(),
                peer,
                class,
                Box::new(|mut stream, _, load| {
                    tokio::spawn(async move {
                        let _load = load;
                        let name = std::thread::current().name().unwrap_or("").to_string();
                        let class = current().map(Class::as_str).unwrap_or("none");
                        stream.write_all(format!("{name} {class}").as_bytes()).await.unwrap();
                    });
                }),
            );
            let mut buf = [0u8; 64];
            let n = client.read(&mut buf).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&buf[..n]), name);
        }
        assert_eq!(current(), None, "the test's own thread is no worker");
    }

    /// Started from a thread with the short slice, as the accept thread starts them on the
    /// first connection, the shared workers run with the default slice and the lanes' workers
    /// with the short one.
    #[cfg(target_os = "linux")]
    #[test]
    fn shared_workers_do_not_keep_the_accept_threads_slice() {
        use crate::sched::current_slice;
        let Some(default) = std::thread::spawn(current_slice).join().unwrap() else {
            return; // The kernel does not show slices: nothing to compare.
        };
        let workers = std::thread::spawn(|| {
            crate::sched::prefer_low_latency();
            Workers::start(2).unwrap()
        })
        .join()
        .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut slices = Vec::new();
        for class in [Class::Shared, Class::Shared, Class::Priority, Class::Cleared] {
            let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (stream, peer) = listener.accept().unwrap();
            stream.set_nonblocking(true).unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            workers.dispatch(stream, peer, class, Box::new(move |_, _, _load| tx.send(current_slice()).unwrap()));
            slices.push((class, rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap()));
        }
        let short = Some(crate::sched::SLICE_NS);
        assert_eq!(
            slices,
            [(Class::Shared, Some(default)), (Class::Shared, Some(default)), (Class::Priority, short), (Class::Cleared, short)]
        );
    }
}
