//! Inclusion and consistency proofs: generation from the leaf hashes (RFC 6962 §2.1.1, §2.1.2)
//! and the verifiers of RFC 9162 §2.1.3.2 and §2.1.4.2.
//!
//! Generation needs every leaf hash of the tree (the writer's frontier is not enough), so it is
//! done from the records on disk by the tools (`rampart audit prove`), never on the write path.

use crate::merkle::{node_hash, root_of, split_point, Hash};

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("the first tree (size {first}) is larger than the second (size {second})")]
    SizesReversed { first: u64, second: u64 },
    #[error("the proof has the wrong number of hashes for these sizes")]
    WrongLength,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// The audit path of leaf `index` in the tree of the first `size` leaves (`PATH(m, D[n])`).
///
/// Panics if `index >= size` or `size > leaves.len()`: callers check against the log first.
pub fn inclusion_path(index: u64, size: u64, leaves: &[Hash]) -> Vec<Hash> {
    assert!(index < size && size as usize <= leaves.len(), "inclusion_path: {index} / {size}");
    let mut path = Vec::new();
    path_into(index as usize, &leaves[..size as usize], &mut path);
    path
}

fn path_into(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
    let n = d.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n as u64) as usize;
    if m < k {
        path_into(m, &d[..k], out);
        out.push(root_of(&d[k..]));
    } else {
        path_into(m - k, &d[k..], out);
        out.push(root_of(&d[..k]));
    }
}

/// The consistency proof between the trees of the first `first` and `second` leaves
/// (`PROOF(m, D[n])`). Empty when `first` is 0 or equals `second`.
///
/// Panics if `first > second` or `second > leaves.len()`.
pub fn consistency_path(first: u64, second: u64, leaves: &[Hash]) -> Vec<Hash> {
    assert!(first <= second && second as usize <= leaves.len(), "consistency_path: {first} / {second}");
    let mut path = Vec::new();
    if first > 0 && first < second {
        subproof_into(first as usize, &leaves[..second as usize], true, &mut path);
    }
    path
}

fn subproof_into(m: usize, d: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !whole {
            out.push(root_of(d));
        }
        return;
    }
    let k = split_point(n as u64) as usize;
    if m <= k {
        subproof_into(m, &d[..k], whole, out);
        out.push(root_of(&d[k..]));
    } else {
        subproof_into(m - k, &d[k..], false, out);
        out.push(root_of(&d[..k]));
    }
}

/// Check that `leaf` is leaf `index` of the tree of `size` leaves whose head is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, path: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Check that the tree of `second` leaves with head `second_root` extends the tree of `first`
/// leaves with head `first_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    path: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesReversed { first, second });
    }
    if first == second {
        if !path.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if first_root == second_root { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    if first == 0 {
        // Every tree extends the empty tree; the proof of that is empty.
        return if path.is_empty() { Ok(()) } else { Err(ProofError::WrongLength) };
    }
    if path.is_empty() {
        return Err(ProofError::WrongLength);
    }
    // A first tree that is a perfect subtree is its own first path element.
    let mut rest = path;
    let start = if first.is_power_of_two() {
        *first_root
    } else {
        rest = &path[1..];
        path[0]
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *first_root || sr != *second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    /// Every proof generated for every (index, size) and (first, second) up to 33 leaves
    /// verifies against the recursive tree heads; the vectors in `tests/vectors.rs` pin the
    /// hashes to the reference implementation.
    #[test]
    fn generated_proofs_verify_for_all_small_trees() {
        let leaves: Vec<Hash> = (0u32..33).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for size in 1..=leaves.len() as u64 {
            let root = root_of(&leaves[..size as usize]);
            for index in 0..size {
                let path = inclusion_path(index, size, &leaves);
                verify_inclusion(index, size, &leaves[index as usize], &path, &root).unwrap();
                if size > 1 {
                    let other = (index + 1) % size;
                    assert!(verify_inclusion(other, size, &leaves[index as usize], &path, &root).is_err());
                }
            }
            for first in 0..=size {
                let path = consistency_path(first, size, &leaves);
                let first_root = root_of(&leaves[..first as usize]);
                verify_consistency(first, size, &path, &first_root, &root).unwrap();
            }
        }
    }
}
