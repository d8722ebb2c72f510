//! CPU affinity of threads: the CPUs a thread may run on (`sched_getaffinity(2)`,
//! `sched_setaffinity(2)`), for the per-core workers (see [`crate::workers`]).
//!
//! Linux only; elsewhere nothing is known ([`allowed`] is `None`) and nothing is pinned.

/// The CPUs the calling thread may run on, in ascending order; `None` where the system does not
/// say (another system, or more CPUs than a `cpu_set_t` holds).
#[cfg(target_os = "linux")]
pub(crate) fn allowed() -> Option<Vec<usize>> {
    // SAFETY: an all-zero cpu_set_t is a valid, empty set; the kernel writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is a cpu_set_t of the size passed.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
        return None;
    }
    // SAFETY: CPU_ISSET reads `set` within its bounds for every index below CPU_SETSIZE.
    let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect();
    (!cpus.is_empty()).then_some(cpus)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn allowed() -> Option<Vec<usize>> {
    None
}

/// Let thread `tid` (0: the calling thread) run on `cpus` only.
#[cfg(target_os = "linux")]
pub(crate) fn set(tid: i32, cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is a valid, empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
        // SAFETY: `c` is below CPU_SETSIZE, inside `set`.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: `set` is a cpu_set_t of the size passed; the kernel only reads it.
    if unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn set(_tid: i32, _cpus: &[usize]) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "sched_setaffinity is Linux's"))
}

/// The calling thread's id, as `set` takes it.
#[cfg(target_os = "linux")]
pub(crate) fn thread_id() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn thread_id() -> i32 {
    0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// A thread pinned to one CPU sees only that CPU as allowed, from itself and from another
    /// thread that set it by id; given the whole set back, it sees the whole set again.
    #[test]
    fn a_thread_is_pinned_and_set_free() {
        let all = super::allowed().expect("sched_getaffinity");
        let last = *all.last().unwrap();
        let seen = std::thread::spawn(move || {
            super::set(0, &[last]).expect("sched_setaffinity");
            super::allowed()
        })
        .join()
        .unwrap();
        assert_eq!(seen, Some(vec![last]));

        let (to_main, from_thread) = std::sync::mpsc::channel();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            to_main.send(Some(vec![super::thread_id() as usize])).unwrap();
            wait.recv().unwrap();
            to_main.send(super::allowed()).unwrap();
            wait.recv().unwrap();
            super::allowed()
        });
        let tid = from_thread.recv().unwrap().unwrap()[0] as i32;
        super::set(tid, &[all[0]]).expect("pin another thread");
        go.send(()).unwrap();
        assert_eq!(from_thread.recv().unwrap(), Some(vec![all[0]]));
        super::set(tid, &all).expect("set it free");
        go.send(()).unwrap();
        assert_eq!(thread.join().unwrap(), Some(all.clone()));
        assert_eq!(super::allowed(), Some(all), "the test's own thread is untouched");
    }
}
