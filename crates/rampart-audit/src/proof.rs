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

/// The leaves a proof is built from: every leaf hash from `start` on, and, for the leaves
/// before `start` that retention removed, the perfect subtrees of the tree of size `start`
/// (the log's `base` frontier). A proof for a leaf at or after `start` only ever needs those
/// subtrees whole, never a part of one.
#[derive(Debug, Clone, Copy)]
pub struct TreeView<'a> {
    /// `(first leaf, end, root)` of each perfect subtree before `start`.
    pub removed: &'a [(u64, u64, Hash)],
    pub start: u64,
    /// Leaf hashes `start..`.
    pub leaves: &'a [Hash],
}

impl TreeView<'_> {
    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.start + self.leaves.len() as u64
    }

    /// `MTH(D[lo:hi])`, or `None` when it needs a removed leaf that no kept subtree covers.
    fn root(&self, lo: u64, hi: u64) -> Option<Hash> {
        if lo >= self.start {
            return Some(root_of(&self.leaves[(lo - self.start) as usize..(hi - self.start) as usize]));
        }
        if let Some((_, _, h)) = self.removed.iter().find(|(a, b, _)| *a == lo && *b == hi) {
            return Some(*h);
        }
        if hi - lo < 2 || hi <= self.start {
            return None;
        }
        let k = lo + split_point(hi - lo);
        Some(node_hash(&self.root(lo, k)?, &self.root(k, hi)?))
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves (`PATH(m, D[n])`);
    /// `None` when it is out of range or needs removed leaves.
    pub fn inclusion_path(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
        if index >= size || size > self.size() {
            return None;
        }
        let mut path = Vec::new();
        self.path_into(index, 0, size, &mut path)?;
        Some(path)
    }

    fn path_into(&self, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) -> Option<()> {
        if hi - lo <= 1 {
            return Some(());
        }
        let k = split_point(hi - lo);
        if m < k {
            self.path_into(m, lo, lo + k, out)?;
            out.push(self.root(lo + k, hi)?);
        } else {
            self.path_into(m - k, lo + k, hi, out)?;
            out.push(self.root(lo, lo + k)?);
        }
        Some(())
    }

    /// The consistency proof between the trees of the first `first` and `second` leaves
    /// (`PROOF(m, D[n])`); empty when `first` is 0 or equals `second`.
    pub fn consistency_path(&self, first: u64, second: u64) -> Option<Vec<Hash>> {
        if first > second || second > self.size() {
            return None;
        }
        let mut path = Vec::new();
        if first > 0 && first < second {
            self.subproof_into(first, 0, second, true, &mut path)?;
        }
        Some(path)
    }

    fn subproof_into(&self, m: u64, lo: u64, hi: u64, whole: bool, out: &mut Vec<Hash>) -> Option<()> {
        let n = hi - lo;
        if m == n {
            if !whole {
                out.push(self.root(lo, hi)?);
            }
            return Some(());
        }
        let k = split_point(n);
        if m <= k {
            self.subproof_into(m, lo, lo + k, whole, out)?;
            out.push(self.root(lo + k, hi)?);
        } else {
            self.subproof_into(m - k, lo + k, hi, false, out)?;
            out.push(self.root(lo, lo + k)?);
        }
        Some(())
    }
}

/// The audit path of leaf `index` in the tree of the first `size` leaves.
///
/// Panics if `index >= size` or `size > leaves.len()`: callers check against the log first.
pub fn inclusion_path(index: u64, size: u64, leaves: &[Hash]) -> Vec<Hash> {
    let view = TreeView { removed: &[], start: 0, leaves };
    view.inclusion_path(index, size).unwrap_or_else(|| panic!("inclusion_path: {index} / {size}"))
}

/// The consistency proof between the trees of the first `first` and `second` leaves.
///
/// Panics if `first > second` or `second > leaves.len()`.
pub fn consistency_path(first: u64, second: u64, leaves: &[Hash]) -> Vec<Hash> {
    let view = TreeView { removed: &[], start: 0, leaves };
    view.consistency_path(first, second).unwrap_or_else(|| panic!("consistency_path: {first} / {second}"))
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
            // The same proofs from a view whose leaves before `cut` are only the frontier.
            for cut in 0..=size {
                let mut frontier = crate::merkle::Frontier::new();
                leaves[..cut as usize].iter().for_each(|l| frontier.push(*l));
                let ranges = frontier.ranges();
                let view = TreeView { removed: &ranges, start: cut, leaves: &leaves[cut as usize..size as usize] };
                for index in cut..size {
                    assert_eq!(view.inclusion_path(index, size), Some(inclusion_path(index, size, &leaves)), "{index}/{size} cut {cut}");
                }
                for first in cut.max(1)..=size {
                    assert_eq!(view.consistency_path(first, size), Some(consistency_path(first, size, &leaves)), "{first}->{size} cut {cut}");
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
