//! The built-in testbed app (`rampart-testbed`) on `127.0.0.1:0`, on its own thread and
//! runtime, for the tests of the stages that guard it (login, exfiltration). Included with
//! `#[path = "common/testbed.rs"] mod testbed;` beside `mod common;`.

#![allow(dead_code)]

use std::net::SocketAddr;

use rampart_testbed::TestbedOptions;

/// A running testbed; stopped when dropped.
pub struct Testbed {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Testbed {
    pub fn start(opts: TestbedOptions) -> Testbed {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind testbed");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("testbed addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, is_ready) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let _ = ready.send(());
                rampart_testbed::serve(listener, opts, async move {
                    let _ = stopped.await;
                })
                .await
                .expect("testbed serves");
            });
        });
        is_ready.recv().expect("testbed thread started");
        // Seeding runs before the first answer: wait until the app is up.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            let up = reqwest::blocking::get(format!("http://{addr}/healthz")).map(|r| r.status().is_success()).unwrap_or(false);
            if up {
                return Testbed { addr, stop: Some(stop), thread: Some(thread) };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("testbed did not start on {addr}");
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A configuration with one listener in front of the testbed at `addr`, plus `extra`.
pub fn config_for_testbed(addr: SocketAddr, extra: &str) -> String {
    format!("[[listener]]\naddress = \"127.0.0.1:0\"\n\n[[upstream]]\nname = \"app\"\nservers = [\"{addr}\"]\n\n{extra}\n")
}
