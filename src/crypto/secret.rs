//! The 32-byte secrets of hemlis, one type per role (docs/PROTOCOL.md, sections 2.5 and 3):
//! root, chain, header and message keys of the ratchet, the handshake secret, the
//! sealed-identity key, DH and KEM shared secrets, the storage key of records at rest
//! (section 12.3), and the private bytes inside key pairs.
//!
//! Every type is zeroized on drop, never `Copy`, compared in constant time and `Debug`
//! redacted. A key of one role cannot be passed where another is wanted: a chain key is
//! not a message key, and only the roles that key the AEAD implement
//! [`AeadKey`](super::aead::AeadKey).

use core::fmt;

use serde::{Deserialize, Serialize};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Construction from and access to the bytes of a 32-byte secret, for the derivations
/// that take or make secrets of several roles.
pub(crate) trait SecretBytes: Sized {
    /// Wraps `bytes`; the caller zeroizes its own copy if it has one.
    fn from_bytes(bytes: [u8; 32]) -> Self;
    /// The secret bytes.
    fn expose(&self) -> &[u8; 32];
}

/// Defines a 32-byte secret type: zeroized on drop, redacted `Debug`, constant-time
/// equality. The `state` form is also `Clone` and serializes as its 32 bytes (the form
/// docs/PROTOCOL.md, section 9 stores).
macro_rules! secret32 {
    ($(#[$doc:meta])* state $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
        #[serde(transparent)]
        pub(crate) struct $name([u8; 32]);
        secret32!(@impls $name);
    };
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Zeroize, ZeroizeOnDrop)]
        pub(crate) struct $name([u8; 32]);
        secret32!(@impls $name);
    };
    (@impls $name:ident) => {
        impl SecretBytes for $name {
            fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            fn expose(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> Choice {
                self.0.ct_eq(&other.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret32! {
    /// The private bytes inside a key pair: an X25519 scalar, the Ed25519 seed, half of an
    /// ML-KEM seed. Only the key pair that holds it uses it.
    state Secret32
}

secret32! {
    /// The root key RK of the Double Ratchet (sections 3.2 and 3.3): input of KDF_RK only.
    state RootKey
}

secret32! {
    /// A chain key CK of a sending or receiving chain (sections 3.4 and 6.2): input of
    /// KDF_CK only.
    state ChainKey
}

secret32! {
    /// A header key HK or NHK (section 6.1): seals and opens message headers.
    state HeaderKey
}

secret32! {
    /// A message key MK (section 3.4): seals and opens one message body.
    state MessageKey
}

secret32! {
    /// The handshake secret SK of PQXDH or X3DH (section 3.1): input of the ratchet
    /// initialisation only (section 3.2).
    HandshakeSecret
}

secret32! {
    /// The key K_id that seals the initiator's identity (section 3.1).
    SealedIdentityKey
}

secret32! {
    /// An X25519 output (DH1 to DH4, the ratchet's DH): input of the key derivations only.
    DhOutput
}

secret32! {
    /// The ML-KEM-768 shared secret SS (section 2.4): input of the key derivations only.
    KemSecret
}

secret32! {
    /// The app's storage key, which seals every record at rest (section 12.3).
    StorageKey
}

/// Wipes the spare capacity of a vector of secret-holding values: the slots a `remove`,
/// `drain` or `truncate` shifted values out of still hold bitwise copies of them, which
/// no destructor reaches. Call it after every such change and before the vector is freed.
pub(crate) fn wipe_spare<T>(values: &mut Vec<T>) {
    values.spare_capacity_mut().zeroize();
}

/// Drops every value of a vector of secret-holding values, then wipes its whole block:
/// besides the values' own zeroization, this reaches the bytes no destructor owns (the
/// payload area of a `None`, padding), which moves may have filled with copies of secrets.
/// For `Drop` implementations.
pub(crate) fn wipe_all<T>(values: &mut Vec<T>) {
    values.clear();
    wipe_spare(values);
}

/// Makes room for `additional` more values without letting the allocator move them: a
/// reallocation would free the old block with every value still in it. The values move
/// to a new block, and the old block is wiped before it is freed.
pub(crate) fn reserve_wiping<T>(values: &mut Vec<T>, additional: usize) {
    let needed = values.len().saturating_add(additional);
    if needed <= values.capacity() {
        return;
    }
    let mut grown = Vec::with_capacity(needed.max(values.capacity().saturating_mul(2)));
    grown.append(values);
    wipe_spare(values);
    *values = grown;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every role prints as its name and `<redacted>`, never its bytes.
    #[test]
    fn debug_is_redacted() {
        fn shown<K: SecretBytes + fmt::Debug>() -> String {
            format!("{:?} {:#?}", K::from_bytes([0xA5; 32]), K::from_bytes([0xA5; 32]))
        }
        let all = [
            ("Secret32", shown::<Secret32>()),
            ("RootKey", shown::<RootKey>()),
            ("ChainKey", shown::<ChainKey>()),
            ("HeaderKey", shown::<HeaderKey>()),
            ("MessageKey", shown::<MessageKey>()),
            ("HandshakeSecret", shown::<HandshakeSecret>()),
            ("SealedIdentityKey", shown::<SealedIdentityKey>()),
            ("DhOutput", shown::<DhOutput>()),
            ("KemSecret", shown::<KemSecret>()),
            ("StorageKey", shown::<StorageKey>()),
        ];
        for (name, text) in all {
            assert_eq!(text, format!("{name}(<redacted>) {name}(<redacted>)"));
        }
    }

    /// Equality is by value, in constant time.
    #[test]
    fn compared_by_value() {
        let a = HeaderKey::from_bytes([1; 32]);
        assert!(bool::from(a.ct_eq(&HeaderKey::from_bytes([1; 32]))));
        assert!(!bool::from(a.ct_eq(&HeaderKey::from_bytes([2; 32]))));
    }

    fn encoded<T: Serialize>(value: &T) -> Vec<u8> {
        postcard::to_allocvec(value).unwrap()
    }

    /// The stored roles serialize as their 32 bytes, as the one secret type before them
    /// did: stored state does not change.
    #[test]
    fn serialized_as_the_bytes() {
        let bytes: [u8; 32] = core::array::from_fn(|i| i as u8);
        let expected = encoded(&bytes);
        assert_eq!(encoded(&RootKey::from_bytes(bytes)), expected);
        assert_eq!(encoded(&ChainKey::from_bytes(bytes)), expected);
        assert_eq!(encoded(&HeaderKey::from_bytes(bytes)), expected);
        assert_eq!(encoded(&MessageKey::from_bytes(bytes)), expected);
        assert_eq!(encoded(&Secret32::from_bytes(bytes)), expected);
        let back: HeaderKey = postcard::from_bytes(&expected).unwrap();
        assert_eq!(back.expose(), &bytes);
    }
}
