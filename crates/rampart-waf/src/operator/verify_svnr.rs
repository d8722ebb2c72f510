//! `@verifySVNR`: an Austrian social insurance number (Sozialversicherungsnummer) — ten
//! digits, the fourth a check digit over the serial (weights 3 7 9) and the birth date
//! (5 8 4 2 1 6), mod 11; trivial sequences are refused.
//! `SecRule ARGS "@verifySVNR ([0-9]{4} ?[0-9]{6})" "id:1,block"`.

use super::verify::{self, digits};
use super::{Operator, OperatorError};

pub(crate) fn build(param: &str) -> Result<Box<dyn Operator>, OperatorError> {
    verify::build("verifySVNR", param, svnr)
}

fn svnr(candidate: &[u8]) -> bool {
    let d = digits(candidate);
    if d.len() != 10 || d.iter().all(|&v| v == d[0]) || d == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] {
        return false;
    }
    let weights = [3, 7, 9, 0, 5, 8, 4, 2, 1, 6];
    let mut sum = d.iter().zip(weights).map(|(v, w)| v * w).sum::<u32>() % 11;
    if sum == 10 {
        sum = 0;
    }
    sum == d[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svnr_numbers() {
        assert!(svnr(b"1237010180"));
        assert!(svnr(b"1237 010180"));
        assert!(!svnr(b"1238010180"));
    }
}
