//! `stuffing`: credential stuffing — `POST` login forms filled from the leaked-passwords list
//! (`rampart_testbed::leaked_passwords`), a few attempts from each source in turn.

use hyper::Method;

use super::load::{percent_encode, Requests, Shape};

pub struct Stuffing {
    pub login_path: String,
    pub username_field: String,
    pub password_field: String,
    /// `(user, password)` pairs.
    pub pairs: Vec<(String, String)>,
}

impl Stuffing {
    pub fn new(login_path: String, username_field: String, password_field: String) -> Stuffing {
        let pairs = rampart_testbed::leaked_passwords()
            .into_iter()
            .filter_map(|line| line.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())))
            .collect();
        Stuffing { login_path, username_field, password_field, pairs }
    }
}

impl Requests for Stuffing {
    fn nth(&self, n: u64) -> Shape {
        let (user, password) = match self.pairs.get((n % self.pairs.len().max(1) as u64) as usize) {
            Some((u, p)) => (u.as_str(), p.as_str()),
            None => ("admin", "123456"),
        };
        let form = format!(
            "{}={}&{}={}",
            percent_encode(&self.username_field),
            percent_encode(user),
            percent_encode(&self.password_field),
            percent_encode(password)
        );
        Shape { method: Method::POST, path: self.login_path.clone(), form: Some(form) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_from_the_leaked_list() {
        let s = Stuffing::new("/login".into(), "username".into(), "password".into());
        assert!(s.pairs.len() > 9_000);
        let first = s.nth(0);
        assert_eq!((first.method, first.path.as_str()), (Method::POST, "/login"));
        let form = first.form.unwrap();
        assert!(form.starts_with("username=") && form.contains("&password="), "{form}");
        assert_ne!(s.nth(1).form, s.nth(0).form.clone());
    }
}
