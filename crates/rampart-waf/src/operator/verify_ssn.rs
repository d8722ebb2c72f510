//! `@verifySSN`: a US social security number — nine digits, no zero area/group/serial, area
//! below 740 and not 666, and not all-sequential or all-repeated.
//! `SecRule ARGS "@verifySSN \d{3}-?\d{2}-?\d{4}" "id:1,block"`.

use super::verify::{self, digits};
use super::{Operator, OperatorError};

pub(crate) fn build(param: &str) -> Result<Box<dyn Operator>, OperatorError> {
    verify::build("verifySSN", param, ssn)
}

fn ssn(candidate: &[u8]) -> bool {
    let d = digits(candidate);
    if d.len() != 9 {
        return false;
    }
    let sequential = d.windows(2).filter(|w| w[0] + 1 == w[1]).count();
    let repeated = d.windows(2).filter(|w| w[0] == w[1]).count();
    if sequential == 8 || repeated == 8 {
        return false;
    }
    let number = |s: &[u32]| s.iter().fold(0, |acc, &v| acc * 10 + v);
    let (area, group, serial) = (number(&d[..3]), number(&d[3..5]), number(&d[5..]));
    area != 0 && group != 0 && serial != 0 && area < 740 && area != 666
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssn_numbers() {
        assert!(ssn(b"574-57-8065"));
        assert!(!ssn(b"800-57-8065"));
        assert!(!ssn(b"123-45-6789"));
        assert!(!ssn(b"000-12-3456"));
    }
}
