//! `rampart check-config`: every problem at once, `file:line:column: message`, exit 1.

use std::path::Path;
use std::process::ExitCode;

pub fn check_config(file: &Path) -> ExitCode {
    match crate::wiring::load(file) {
        Ok(plan) => {
            println!(
                "{}: ok ({} listener(s), {} route(s), {} upstream(s), {} stage(s))",
                file.display(),
                plan.config.listeners.len(),
                plan.config.routes.len(),
                plan.config.upstreams.len(),
                plan.stage_names().len(),
            );
            for warning in plan.warnings() {
                println!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}
