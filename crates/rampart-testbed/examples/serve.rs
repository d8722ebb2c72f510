//! Serves the testbed on loopback until Ctrl-C, for poking at it by hand.
//!
//! ```text
//! cargo run -p rampart-testbed --example serve -- [PORT] [--vulnerable] [--open]
//! ```
//!
//! `--open` sets `require_login = false`. Log in as `staff@campaign.example`
//! / `doorstep-ledger-42`.

use rampart_testbed::{serve, TestbedOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(8081);
    let opts = TestbedOptions {
        vulnerable: args.iter().any(|a| a == "--vulnerable"),
        require_login: !args.iter().any(|a| a == "--open"),
        ..TestbedOptions::default()
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("testbed on http://{}", listener.local_addr()?);
    serve(listener, opts, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
