//! C2SP signed notes with Ed25519 keys (<https://c2sp.org/signed-note>), in the key and
//! signature encodings of `golang.org/x/mod/sumdb/note`, so that Go's verifiers and witnesses
//! read what this writes:
//!
//! * verifier key: `name+hhhhhhhh+base64(0x01 || public key)`;
//! * signer key (the `signing_key` file): `PRIVATE+KEY+name+hhhhhhhh+base64(0x01 || seed)`;
//! * key id `hhhhhhhh`: the first four bytes of `SHA-256(name || "\n" || 0x01 || public key)`;
//! * a note: the text (ending in a newline), a blank line, then one line per signature
//!   `— name base64(key id || signature)`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature algorithm byte for Ed25519.
const ALG_ED25519: u8 = 0x01;
/// The em dash and space that open a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a key or a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    #[error("no signature by key {name}+{id:08x}")]
    NotSigned { name: String, id: u32 },
    #[error("the signature by {name}+{id:08x} does not verify")]
    BadSignature { name: String, id: u32 },
}

/// A key name: non-empty, no `+`, no whitespace (signed-note's rule).
fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::MalformedKey("the name must be non-empty, without '+' or whitespace"));
    }
    Ok(())
}

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// `name+hhhhhhhh+base64(0x01 || key)`.
fn key_text(name: &str, id: u32, key: &[u8; 32]) -> String {
    let mut raw = vec![ALG_ED25519];
    raw.extend_from_slice(key);
    format!("{name}+{id:08x}+{}", B64.encode(raw))
}

/// Split `name+hhhhhhhh+base64` and check the algorithm byte and the id.
fn parse_key(text: &str) -> Result<(String, u32, [u8; 32]), NoteError> {
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::MalformedKey("expected name+keyid+base64"));
    };
    check_name(name)?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(NoteError::MalformedKey("the key id must be 8 lower-case hex digits"));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| NoteError::MalformedKey("bad key id"))?;
    let raw = B64.decode(material).map_err(|_| NoteError::MalformedKey("bad base64"))?;
    if raw.len() != 33 || raw[0] != ALG_ED25519 {
        return Err(NoteError::MalformedKey("expected an Ed25519 key (0x01 and 32 bytes)"));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&raw[1..]);
    Ok((name.to_string(), id, key))
}

/// An Ed25519 signer key with its name.
pub struct NoteSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteSigner({}+{:08x})", self.name, self.id)
    }
}

impl NoteSigner {
    /// A fresh key named `name`, from the operating system's random source.
    pub fn generate(name: &str) -> Result<NoteSigner, NoteError> {
        use rand::RngCore;
        check_name(name)?;
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        Ok(NoteSigner::from_seed(name, seed))
    }

    fn from_seed(name: &str, seed: [u8; 32]) -> NoteSigner {
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        NoteSigner { name: name.to_string(), id, key }
    }

    /// Parse `PRIVATE+KEY+name+hhhhhhhh+base64(0x01 || seed)`; the id must match the key.
    pub fn parse(text: &str) -> Result<NoteSigner, NoteError> {
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or(NoteError::MalformedKey("expected PRIVATE+KEY+…"))?;
        let (name, id, seed) = parse_key(rest)?;
        let signer = NoteSigner::from_seed(&name, seed);
        if signer.id != id {
            return Err(NoteError::MalformedKey("the key id does not match the key"));
        }
        Ok(signer)
    }

    /// The key name (the checkpoint origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signer key text, for the key file.
    pub fn to_text(&self) -> String {
        format!("PRIVATE+KEY+{}", key_text(&self.name, self.id, self.key.as_bytes()))
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), id: self.id, key: self.key.verifying_key() }
    }

    /// The signed note of `text` (which must end in a newline).
    pub fn sign(&self, text: &str) -> String {
        debug_assert!(text.ends_with('\n'));
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.id.to_be_bytes().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// An Ed25519 verifier key with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parse `name+hhhhhhhh+base64(0x01 || public key)`; the id must match the key.
    pub fn parse(text: &str) -> Result<NoteVerifier, NoteError> {
        let (name, id, public) = parse_key(text)?;
        if key_id(&name, &public) != id {
            return Err(NoteError::MalformedKey("the key id does not match the key"));
        }
        let key = VerifyingKey::from_bytes(&public).map_err(|_| NoteError::MalformedKey("not an Ed25519 point"))?;
        Ok(NoteVerifier { name, id, key })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key text.
    pub fn to_text(&self) -> String {
        key_text(&self.name, self.id, self.key.as_bytes())
    }

    /// Check a signed note and return its text. Signatures by other keys are ignored; this
    /// key's must be present and valid.
    pub fn open<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let split = note.rfind("\n\n").ok_or(NoteError::MalformedNote("no blank line before the signatures"))?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::MalformedNote("signature lines must end in a newline"));
        }
        let mut found = false;
        for line in sigs[..sigs.len() - 1].split('\n') {
            let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::MalformedNote("a signature line must start with '— '"))?;
            let (name, blob) = rest.split_once(' ').ok_or(NoteError::MalformedNote("a signature line is '— name base64'"))?;
            let blob = B64.decode(blob).map_err(|_| NoteError::MalformedNote("bad base64 in a signature"))?;
            if blob.len() < 5 {
                return Err(NoteError::MalformedNote("a signature is too short"));
            }
            let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
            if name != self.name || id != self.id {
                continue;
            }
            let bad = || NoteError::BadSignature { name: self.name.clone(), id: self.id };
            let sig = Signature::from_slice(&blob[4..]).map_err(|_| bad())?;
            self.key.verify_strict(text.as_bytes(), &sig).map_err(|_| bad())?;
            found = true;
        }
        if found {
            Ok(text)
        } else {
            Err(NoteError::NotSigned { name: self.name.clone(), id: self.id })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of golang.org/x/mod/sumdb/note (and of c2sp.org/signed-note's reference
    // implementation): Ed25519 is deterministic, so signing must give the published bytes.
    const SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const NOTE: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_sumdb_note_known_answer() {
        let signer = NoteSigner::parse(SKEY).unwrap();
        assert_eq!(signer.to_text(), SKEY);
        assert_eq!(signer.verifier().to_text(), VKEY);
        assert_eq!(signer.sign(TEXT), NOTE);
        let verifier = NoteVerifier::parse(VKEY).unwrap();
        assert_eq!(verifier.open(NOTE).unwrap(), TEXT);
    }

    #[test]
    fn altered_notes_and_keys_are_refused() {
        let verifier = NoteVerifier::parse(VKEY).unwrap();
        let altered = NOTE.replace("cryptography", "cryptographY");
        assert!(matches!(verifier.open(&altered), Err(NoteError::BadSignature { .. })));
        let other = NoteSigner::generate("PeterNeumann").unwrap();
        assert!(matches!(other.verifier().open(NOTE), Err(NoteError::NotSigned { .. })));
        assert!(verifier.open(TEXT).is_err());
        // A wrong key id, a wrong name for the id, upper-case hex.
        assert!(NoteVerifier::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").is_err());
        assert!(NoteVerifier::parse("PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").is_err());
        assert!(NoteVerifier::parse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").is_err());
    }

    #[test]
    fn generated_keys_round_trip() {
        let s = NoteSigner::generate("rampart.example/audit").unwrap();
        let again = NoteSigner::parse(&s.to_text()).unwrap();
        assert_eq!(again.verifier(), s.verifier());
        let note = s.sign("hello\n");
        assert_eq!(NoteVerifier::parse(&s.verifier().to_text()).unwrap().open(&note).unwrap(), "hello\n");
        assert!(NoteSigner::generate("bad name").is_err());
    }
}
