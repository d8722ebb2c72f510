//! `@verifyCPF`: a Brazilian CPF number — eleven digits whose two check digits are right and
//! which is not one of the trivial sequences (`000…`, `111…`, `01234567890`).
//! `SecRule ARGS "@verifyCPF ([0-9]{3}\.){2}[0-9]{3}-[0-9]{2}" "id:1,block"`.

use super::verify::{self, digits};
use super::{Operator, OperatorError};

pub(crate) fn build(param: &str) -> Result<Box<dyn Operator>, OperatorError> {
    verify::build("verifyCPF", param, cpf)
}

fn check_digit(d: &[u32], first_weight: u32) -> u32 {
    let sum: u32 = d.iter().zip((2..=first_weight).rev()).map(|(v, w)| v * w).sum();
    match sum % 11 {
        0 | 1 => 0,
        r => 11 - r,
    }
}

fn cpf(candidate: &[u8]) -> bool {
    let d = digits(candidate);
    if d.len() != 11 || d.iter().all(|&v| v == d[0]) || d == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0] {
        return false;
    }
    check_digit(&d[..9], 10) == d[9] && check_digit(&d[..10], 11) == d[10]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpf_numbers() {
        assert!(cpf(b"010.817.514-60"));
        assert!(!cpf(b"010.817.514-61"));
        assert!(!cpf(b"111.111.111-11"));
    }
}
