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
//!
//! Each per-core worker is pinned to a CPU of its own (`[server] pin_workers`, on by default),
//! when the process may use exactly as many CPUs as it runs workers. Left to the scheduler, a
//! worker follows the thread that wakes it: a packet sent over loopback wakes the receiver on
//! the sender's CPU, so both workers were at times pulled onto the CPU of the load generator,
//! or of the app behind, and queued there one behind the other while the other CPU ran
//! something else (in 5.7% of samples taken every 2 ms under `bench/proxy.sh`'s load). Pinned, each CPU always has one of them, and the threads that are not pinned (the
//! app, the lanes' workers) go where there is room. Measured on the 2-core bench machine
//! against the same build unpinned, in the same rounds (`bench/proxy.sh`'s load, three runs of
//! 12-48 rounds): p99 0.5-0.7x in every run, requests per second 1.00-1.07x (median per-round
//! ratios); with a busy process pinned to one CPU, 0.95x nginx instead of 0.87x. The lanes'
//! workers are not pinned: they must reach whichever CPU frees up first.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::affinity;

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
    /// Where the shared workers run; `None` when they cannot be pinned (the process may use
    /// more or fewer CPUs than it runs workers, or the system does not say which).
    placement: Option<Arc<Mutex<Placement>>>,
}

/// The shared workers' CPUs.
struct Placement {
    /// The CPUs the process may run on, one per shared worker: worker `i`'s is the `i`-th.
    cpus: Vec<usize>,
    /// Whether each shared worker runs on its CPU only, or anywhere in `cpus`.
    pinned: bool,
    /// The shared workers' thread ids, once their threads run.
    tids: Vec<Option<i32>>,
}

impl Placement {
    /// Put worker `i` (thread `tid`, 0 for the calling thread) where `pinned` says.
    fn apply(&self, i: usize, tid: i32) {
        let cpus = if self.pinned { &self.cpus[i..=i] } else { &self.cpus[..] };
        match affinity::set(tid, cpus) {
            Ok(()) => tracing::debug!(worker = i, ?cpus, "worker thread's CPUs"),
            Err(e) => tracing::warn!(worker = i, error = %e, "cannot set the worker thread's CPUs"),
        }
    }
}

/// Counts one open connection against its worker until dropped.
pub struct Load(Arc<AtomicUsize>);

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Worker {
    /// Start a worker thread; a shared one gets its place (`placement`, its index there).
    fn start(name: String, class: Class, placement: Option<(Arc<Mutex<Placement>>, usize)>) -> std::io::Result<Worker> {
        let (tx, mut rx) = mpsc::unbounded_channel::<(std::net::TcpStream, SocketAddr, Job)>();
        let open = Arc::new(AtomicUsize::new(0));
        let load = Arc::clone(&open);
        let mut builder = tokio::runtime::Builder::new_current_thread();
        if let Some((placement, _)) = &placement {
            // A thread inherits its creator's CPUs: the runtime's blocking-pool threads, started
            // by a pinned worker, go back to all of the process's.
            let all = placement.lock().cpus.clone();
            builder.on_thread_start(move || {
                let _ = affinity::set(0, &all);
            });
        }
        let runtime = builder.enable_all().build()?;
        std::thread::Builder::new().name(name).spawn(move || {
            CURRENT.with(|c| c.set(Some(class)));
            if let Some((placement, i)) = placement {
                let mut placement = placement.lock();
                placement.tids[i] = Some(affinity::thread_id());
                if placement.pinned {
                    placement.apply(i, 0);
                }
            }
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
    /// Start `n` workers (at least one), the priority worker and the clearance holders'. With
    /// `pin`, each of the `n` runs on a CPU of its own when the process may use `n` CPUs.
    pub fn start(n: usize, pin: bool) -> std::io::Result<Workers> {
        let n = n.max(1);
        let placement = match affinity::allowed() {
            Some(cpus) if cpus.len() == n => Some(Arc::new(Mutex::new(Placement { cpus, pinned: pin, tids: vec![None; n] }))),
            Some(cpus) => {
                if pin {
                    // available_parallelism counts a CPU quota (cgroup cpu.max): the process
                    // has a share of more CPUs than it runs workers, and none is its own.
                    tracing::info!(workers = n, cpus = cpus.len(), "worker threads not pinned: the process may run on more CPUs than it runs workers");
                }
                None
            }
            None => None,
        };
        let workers = (0..n)
            .map(|i| {
                let place = placement.as_ref().map(|p| (Arc::clone(p), i));
                Worker::start(format!("rampart-worker-{i}"), Class::Shared, place)
            })
            .collect::<Result<_, _>>()?;
        Ok(Workers {
            workers,
            priority: Worker::start("rampart-priority".into(), Class::Priority, None)?,
            cleared: Worker::start("rampart-cleared".into(), Class::Cleared, None)?,
            placement,
        })
    }

    /// One worker per core, pinned to it with `pin`.
    pub fn per_core(pin: bool) -> std::io::Result<Workers> {
        Workers::start(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), pin)
    }

    /// Pin the shared workers to their CPUs, or let them run on any of the process's (a reload
    /// that changes `pin_workers`). Nothing happens where they cannot be pinned.
    pub fn pin(&self, pin: bool) {
        let Some(placement) = &self.placement else { return };
        let mut placement = placement.lock();
        if placement.pinned == pin {
            return;
        }
        placement.pinned = pin;
        for (i, tid) in placement.tids.iter().enumerate() {
            if let Some(tid) = *tid {
                placement.apply(i, tid);
            }
        }
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
        let workers = Workers::start(2, false).unwrap();
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
        let workers = Workers::start(2, false).unwrap();
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

    /// With `pin`, each shared worker runs on one CPU, a different one each, all of the
    /// process's between them; a reload without it lets them run on all, and one with it pins
    /// them again. The lanes' workers are never pinned; nor are shared workers that outnumber
    /// the CPUs.
    #[cfg(target_os = "linux")]
    #[test]
    fn shared_workers_are_pinned_one_per_cpu() {
        let all = affinity::allowed().expect("sched_getaffinity");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        // The CPUs each worker of `classes` may run on, by worker name; every connection's load
        // is held until all are dispatched, so that the shared ones go to different workers.
        let cpus_of = |workers: &Workers, classes: &[Class]| {
            let mut seen = Vec::new();
            let mut loads = Vec::new();
            for &class in classes {
                let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (stream, peer) = listener.accept().unwrap();
                stream.set_nonblocking(true).unwrap();
                let (tx, rx) = std::sync::mpsc::channel();
                workers.dispatch(
                    stream,
                    peer,
                    class,
                    Box::new(move |_, _, load| {
                        let name = std::thread::current().name().unwrap_or("").to_string();
                        tx.send((name, affinity::allowed().unwrap(), load)).unwrap();
                    }),
                );
                let (name, cpus, load) = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
                seen.push((name, cpus));
                loads.push(load);
            }
            seen.sort();
            seen
        };
        let n = all.len();
        let mut classes = vec![Class::Shared; n];
        classes.extend([Class::Priority, Class::Cleared]);

        let workers = Workers::start(n, true).unwrap();
        let pinned = cpus_of(&workers, &classes);
        let shared: Vec<_> = pinned.iter().filter(|(name, _)| name.starts_with("rampart-worker-")).collect();
        assert_eq!(shared.len(), n, "{pinned:?}");
        assert!(shared.iter().all(|(_, cpus)| cpus.len() == 1), "one CPU each: {pinned:?}");
        let mut one_each: Vec<usize> = shared.iter().map(|(_, cpus)| cpus[0]).collect();
        one_each.sort();
        assert_eq!(one_each, all, "all of them between them: {pinned:?}");
        for (name, cpus) in pinned.iter().filter(|(name, _)| !name.starts_with("rampart-worker-")) {
            assert_eq!(cpus, &all, "{name} is not pinned");
        }

        workers.pin(false);
        assert!(cpus_of(&workers, &classes).iter().all(|(_, cpus)| cpus == &all), "set free by a reload");
        workers.pin(true);
        assert_eq!(cpus_of(&workers, &classes), pinned, "pinned again");
        drop(workers);

        let more = Workers::start(n + 1, true).unwrap();
        let mut classes = vec![Class::Shared; n + 1];
        classes.push(Class::Priority);
        assert!(cpus_of(&more, &classes).iter().all(|(_, cpus)| cpus == &all), "more workers than CPUs: none pinned");
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
            Workers::start(2, false).unwrap()
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
