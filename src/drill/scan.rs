//! `scan`: what a path and vulnerability scanner sends — the well-known files and admin pages
//! of common software, alternating with made-up paths that can only be 404s.

use super::load::{Requests, Shape};

/// Paths scanners try first (secrets, VCS metadata, admin consoles, backups).
pub const SCAN_PATHS: &[&str] = &[
    "/.env",
    "/.git/config",
    "/.git/HEAD",
    "/.svn/entries",
    "/.aws/credentials",
    "/.DS_Store",
    "/wp-admin/",
    "/wp-login.php",
    "/xmlrpc.php",
    "/phpmyadmin/",
    "/pma/",
    "/admin/",
    "/administrator/",
    "/config.php",
    "/config.json",
    "/backup.zip",
    "/backup.sql",
    "/db.sql",
    "/server-status",
    "/actuator/env",
    "/api/v1/debug",
    "/cgi-bin/test.cgi",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/solr/admin/",
    "/.well-known/security.txt",
    "/console",
    "/jenkins/login",
    "/owa/auth/logon.aspx",
];

pub struct Scan;

impl Requests for Scan {
    fn nth(&self, n: u64) -> Shape {
        let i = n / 2;
        if n.is_multiple_of(2) {
            Shape::get(SCAN_PATHS[(i % SCAN_PATHS.len() as u64) as usize].to_string())
        } else {
            // Sequential guesses, as a dictionary scanner walks its list.
            Shape::get(format!("/admin{i}.php"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_alternate_with_guesses() {
        assert_eq!(Scan.nth(0).path, "/.env");
        assert_eq!(Scan.nth(1).path, "/admin0.php");
        assert_eq!(Scan.nth(2).path, "/.git/config");
        assert_eq!(Scan.nth(3).path, "/admin1.php");
    }
}
