//! `flood`: plain GETs, as many as the connections carry, over the given paths in turn.

use super::load::{Requests, Shape};

pub struct Flood {
    pub paths: Vec<String>,
    /// Add `drill=N` to every query, so that no two requests are the same (cache-busting).
    pub cache_bust: bool,
}

impl Requests for Flood {
    fn nth(&self, n: u64) -> Shape {
        let path = &self.paths[(n % self.paths.len() as u64) as usize];
        if self.cache_bust {
            let sep = if path.contains('?') { '&' } else { '?' };
            Shape::get(format!("{path}{sep}drill={n}"))
        } else {
            Shape::get(path.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_turn_with_cache_busting() {
        let f = Flood { paths: vec!["/".into(), "/a?x=1".into()], cache_bust: true };
        assert_eq!(f.nth(0).path, "/?drill=0");
        assert_eq!(f.nth(1).path, "/a?x=1&drill=1");
        let f = Flood { paths: vec!["/".into()], cache_bust: false };
        assert_eq!(f.nth(7).path, "/");
    }
}
