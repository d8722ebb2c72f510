//! The RFC 6962 test vectors of transparency-dev/merkle (`testonly/constants.go`,
//! `proof/verify_test.go`, the same as certificate-transparency-go's): the eight leaf inputs,
//! the tree heads of every size, the inclusion and consistency proofs — and the mutated proofs
//! (wrong index, wrong size, a flipped bit, a hash added or removed) that must fail.

use rampart_audit::merkle::{empty_root, leaf_hash, root_of, Frontier, Hash};
use rampart_audit::proof::{consistency_path, inclusion_path, verify_consistency, verify_inclusion};

fn h(s: &str) -> Hash {
    let bytes: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
    bytes.try_into().unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

const LEAVES: [&str; 8] = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

/// Tree heads for sizes 0..=8.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// The leaf hashes (level 0 of `NodeHashes`).
const LEAF_HASHES: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];

/// (leaf, 1-based as in the Go vectors; tree size; path).
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (size1, size2, path).
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 5, &["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

/// `abacaba…`: the Go tests' "some hash".
const SOME_HASH: &str = "abacaba000000000000000000000000000000000000000000060061e00123456";

fn leaf_hashes() -> Vec<Hash> {
    LEAVES.iter().map(|l| leaf_hash(&unhex(l))).collect()
}

#[test]
fn leaf_hashes_and_roots_of_every_size() {
    let leaves = leaf_hashes();
    for (i, want) in LEAF_HASHES.iter().enumerate() {
        assert_eq!(leaves[i], h(want), "leaf {i}");
    }
    assert_eq!(empty_root(), h(ROOTS[0]));
    let mut frontier = Frontier::new();
    for size in 0..=8 {
        assert_eq!(root_of(&leaves[..size]), h(ROOTS[size]), "root_of size {size}");
        assert_eq!(frontier.root(), h(ROOTS[size]), "frontier size {size}");
        if size < 8 {
            frontier.push(leaves[size]);
        }
    }
}

#[test]
fn generated_proofs_equal_the_vectors() {
    let leaves = leaf_hashes();
    for (leaf, size, path) in INCLUSION {
        let want: Vec<Hash> = path.iter().map(|p| h(p)).collect();
        assert_eq!(inclusion_path(leaf - 1, size, &leaves), want, "inclusion {leaf}/{size}");
    }
    for (first, second, path) in CONSISTENCY {
        let want: Vec<Hash> = path.iter().map(|p| h(p)).collect();
        assert_eq!(consistency_path(first, second, &leaves), want, "consistency {first}/{second}");
    }
}

/// The mutations of transparency-dev's `corruptInclusionProof`. Hashes are fixed-size here, so
/// "garbage" is a 32-byte value (the Go tests also use empty slices, which this type cannot hold).
fn mutated_inclusion(index: u64, size: u64, path: &[Hash], root: Hash, leaf: Hash) -> Vec<(String, u64, u64, Vec<Hash>, Hash, Hash)> {
    let some = h(SOME_HASH);
    let empty = empty_root();
    let mut out = vec![
        ("index - 1".to_string(), index.wrapping_sub(1), size, path.to_vec(), root, leaf),
        ("index + 1".into(), index + 1, size, path.to_vec(), root, leaf),
        ("index ^ 2".into(), index ^ 2, size, path.to_vec(), root, leaf),
        ("size * 2".into(), index, size * 2, path.to_vec(), root, leaf),
        ("size / 2".into(), index, size / 2, path.to_vec(), root, leaf),
        ("wrong leaf".into(), index, size, path.to_vec(), root, some),
        ("empty root".into(), index, size, path.to_vec(), empty, leaf),
        ("random root".into(), index, size, path.to_vec(), some, leaf),
        ("trailing garbage".into(), index, size, [path, &[some]].concat(), root, leaf),
        ("trailing root".into(), index, size, [path, &[root]].concat(), root, leaf),
        ("preceding garbage".into(), index, size, [&[some], path].concat(), root, leaf),
        ("preceding root".into(), index, size, [&[root], path].concat(), root, leaf),
    ];
    for i in 0..path.len() {
        let mut p = path.to_vec();
        p[i][0] ^= 8;
        out.push((format!("proof[{i}] bit 3 flipped"), index, size, p, root, leaf));
    }
    if !path.is_empty() {
        out.push(("removed component".into(), index, size, path[..path.len() - 1].to_vec(), root, leaf));
    }
    if path.len() > 1 {
        let p = [&[path[0], some], &path[1..]].concat();
        out.push(("inserted component".into(), index, size, p, root, leaf));
    }
    out
}

#[test]
fn inclusion_vectors_verify_and_every_mutation_fails() {
    let leaves = leaf_hashes();
    for (leaf, size, path) in INCLUSION {
        let path: Vec<Hash> = path.iter().map(|p| h(p)).collect();
        let root = h(ROOTS[size as usize]);
        let index = leaf - 1;
        verify_inclusion(index, size, &leaves[index as usize], &path, &root).unwrap();
        for (what, i, s, p, r, l) in mutated_inclusion(index, size, &path, root, leaves[index as usize]) {
            assert!(verify_inclusion(i, s, &l, &p, &r).is_err(), "{what} verified for leaf {index} of {size}");
        }
    }
    // Out-of-range probes with an empty proof, as in TestVerifyInclusion.
    for (index, size) in [(0, 0), (0, 1), (1, 0), (2, 1)] {
        assert!(verify_inclusion(index, size, &h(SOME_HASH), &[], &empty_root()).is_err());
    }
}

#[test]
fn consistency_vectors_verify_and_every_mutation_fails() {
    let some = h(SOME_HASH);
    for (first, second, path) in CONSISTENCY {
        let path: Vec<Hash> = path.iter().map(|p| h(p)).collect();
        let (r1, r2) = (h(ROOTS[first as usize]), h(ROOTS[second as usize]));
        verify_consistency(first, second, &path, &r1, &r2).unwrap();
        if path.is_empty() {
            continue;
        }
        let n = path.len();
        let mut probes: Vec<(String, u64, u64, Vec<Hash>, Hash, Hash)> = vec![
            ("first - 1".into(), first - 1, second, path.clone(), r1, r2),
            ("first + 1".into(), first + 1, second, path.clone(), r1, r2),
            ("first ^ 2".into(), first ^ 2, second, path.clone(), r1, r2),
            ("second * 2".into(), first, second * 2, path.clone(), r1, r2),
            ("second / 2".into(), first, second / 2, path.clone(), r1, r2),
            ("wrong root1".into(), first, second, path.clone(), some, r2),
            ("wrong root2".into(), first, second, path.clone(), r1, some),
            ("swapped roots".into(), first, second, path.clone(), r2, r1),
            ("empty proof".into(), first, second, vec![], r1, r2),
            ("trailing garbage".into(), first, second, [&path[..], &[some]].concat(), r1, r2),
            ("trailing root1".into(), first, second, [&path[..], &[r1]].concat(), r1, r2),
            ("trailing root2".into(), first, second, [&path[..], &[r2]].concat(), r1, r2),
            ("preceding garbage".into(), first, second, [&[some], &path[..]].concat(), r1, r2),
            ("preceding root1".into(), first, second, [&[r1], &path[..]].concat(), r1, r2),
            ("preceding root2".into(), first, second, [&[r2], &path[..]].concat(), r1, r2),
            ("preceding proof[0]".into(), first, second, [&[path[0]], &path[..]].concat(), r1, r2),
            ("truncated proof".into(), first, second, path[..n - 1].to_vec(), r1, r2),
        ];
        for i in 0..n {
            let mut p = path.clone();
            p[i][0] ^= 16;
            probes.push((format!("proof[{i}] bit 4 flipped"), first, second, p, r1, r2));
        }
        for (what, s1, s2, p, a, b) in probes {
            assert!(verify_consistency(s1, s2, &p, &a, &b).is_err(), "{what} verified for {first}->{second}");
        }
    }
}

#[test]
fn consistency_edge_cases() {
    let (r1, r2) = (h(SOME_HASH), h(ROOTS[3]));
    let empty = empty_root();
    // Sizes that are always consistent with an empty proof.
    verify_consistency(0, 0, &[], &r1, &r1).unwrap();
    verify_consistency(0, 1, &[], &r1, &r2).unwrap();
    verify_consistency(1, 1, &[], &r2, &r2).unwrap();
    // Going back in time, an empty proof for a real extension, roots that differ at one size,
    // a non-empty proof where none is due.
    assert!(verify_consistency(1, 0, &[], &r1, &r2).is_err());
    assert!(verify_consistency(2, 1, &[], &r1, &r2).is_err());
    assert!(verify_consistency(1, 2, &[], &r1, &r2).is_err());
    assert!(verify_consistency(0, 0, &[], &empty, &r2).is_err());
    assert!(verify_consistency(1, 1, &[], &empty, &r2).is_err());
    assert!(verify_consistency(0, 0, &[empty], &empty, &empty).is_err());
    assert!(verify_consistency(0, 1, &[empty], &empty, &empty).is_err());
    assert!(verify_consistency(1, 1, &[empty], &empty, &empty).is_err());
}
