//! Signed delivery URLs: `/r/<token>`, where the token is a fixed-layout
//! binary claim set followed by its HMAC-SHA256, in unpadded base64url.
//!
//! ```text
//! 0      format (1)
//! 1..5   key id (4): the first bytes of SHA-256 of the signing key
//! 5..21  asset id
//! 21..37 version id
//! 37     kind: 1 THUMBNAIL, 2 PREVIEW, 3 LOWRES, 4 ORIGINAL
//! 38     holder: 1 user session, 2 share-link visit
//! 39..55 user id / share-link id
//! 55..71 session id / visit id
//! 71..79 expiry, Unix seconds, big-endian
//! 79     declared channel: 0 none, 1.. the channel (format 2)
//! 80..82 declared territory: 0 0 none, "**" WORLD, else its ISO code (format 2)
//! 82..114 HMAC-SHA256 of bytes 0..82
//! ```
//!
//! Format 3 is format 2 for a derivative (kind 5): bytes 82..104 name the
//! variant, and the HMAC covers bytes 0..104 (136 bytes in all).
//!
//! ```text
//! 82..98  derivative profile id
//! 98..102 the profile's revision, big-endian
//! 102     format: 0 AUTO (decided per request by `Accept`), 1 JPEG, 2 WEBP, 3 AVIF, 4 PNG
//! 103     pixel density (1-4)
//! 104..136 HMAC-SHA256 of bytes 0..104
//! ```
//!
//! Format 1 (no declared use; the HMAC over bytes 0..79) is still accepted,
//! so that the URLs issued before format 2 keep working until they expire.
//!
//! Keys are derived from the installation secret; previous secrets stay
//! accepted for verification, so the secret can rotate without breaking the
//! URLs already out (until they expire).

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use vitrine_entity::license::{Channel, Usage, WORLD};

use super::DeliveryKind;

type HmacSha256 = Hmac<Sha256>;

const FORMAT: u8 = 2;
const CLAIMS_LEN: usize = 82;
const TOKEN_LEN: usize = CLAIMS_LEN + 32;
const V1_CLAIMS_LEN: usize = 79;
const DERIVATIVE_FORMAT: u8 = 3;
const DERIVATIVE_CLAIMS_LEN: usize = CLAIMS_LEN + 22;
const DERIVATIVE_TOKEN_LEN: usize = DERIVATIVE_CLAIMS_LEN + 32;
/// The longest encoded token: longer input is refused before decoding.
const MAX_ENCODED: usize = DERIVATIVE_TOKEN_LEN.div_ceil(3) * 4;

/// A derivative format as carried in a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VariantFormat {
    /// Decided at each request from the client's `Accept`.
    Auto,
    Jpeg,
    Webp,
    Avif,
    Png,
}

impl VariantFormat {
    /// The format a profile stores (`AUTO`, `JPEG`, …); AUTO when unreadable.
    pub fn parse_stored(stored: &str) -> Self {
        match stored {
            "JPEG" => VariantFormat::Jpeg,
            "WEBP" => VariantFormat::Webp,
            "AVIF" => VariantFormat::Avif,
            "PNG" => VariantFormat::Png,
            _ => VariantFormat::Auto,
        }
    }

    fn code(self) -> u8 {
        match self {
            VariantFormat::Auto => 0,
            VariantFormat::Jpeg => 1,
            VariantFormat::Webp => 2,
            VariantFormat::Avif => 3,
            VariantFormat::Png => 4,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => VariantFormat::Auto,
            1 => VariantFormat::Jpeg,
            2 => VariantFormat::Webp,
            3 => VariantFormat::Avif,
            4 => VariantFormat::Png,
            _ => return None,
        })
    }
}

/// Which derivative a URL serves: a profile at one revision, in a format,
/// at a pixel density.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    pub profile_id: Uuid,
    pub revision: i32,
    pub format: VariantFormat,
    pub dpr: u8,
}

/// Who a URL was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Holder {
    /// A signed-in user, through one session.
    User { user_id: Uuid, session_id: Uuid },
    /// A visitor of a share link.
    Visitor { share_link_id: Uuid, visit_id: Uuid },
}

/// What a URL grants, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Claims {
    pub asset_id: Uuid,
    pub version_id: Uuid,
    pub kind: DeliveryKind,
    pub holder: Holder,
    /// Unix seconds.
    pub expires_at: i64,
    /// The channel the URL is for: delivery then needs a license covering it.
    pub channel: Option<Channel>,
    /// The territory the URL is for (ISO code; `**`: WORLD).
    pub territory: Option<[u8; 2]>,
    /// For a derivative (kind DERIVATIVE): which one.
    pub variant: Option<Variant>,
}

impl Claims {
    /// The use the URL declares.
    pub fn usage(&self) -> Usage {
        Usage {
            channel: self.channel,
            territory: self.territory.map(|t| {
                if &t == b"**" {
                    WORLD.to_owned()
                } else {
                    String::from_utf8_lossy(&t).into_owned()
                }
            }),
        }
    }

    /// A normalized territory (see [`vitrine_entity::license::normalize_territory`])
    /// as carried in claims.
    pub fn territory_code(territory: &str) -> Option<[u8; 2]> {
        if territory == WORLD {
            return Some(*b"**");
        }
        <[u8; 2]>::try_from(territory.as_bytes()).ok()
    }
}

fn channel_code(channel: Option<Channel>) -> u8 {
    channel
        .and_then(|c| Channel::ALL.iter().position(|x| *x == c))
        .and_then(|i| u8::try_from(i + 1).ok())
        .unwrap_or(0)
}

fn channel_of(code: u8) -> Result<Option<Channel>, Invalid> {
    match code {
        0 => Ok(None),
        n => Channel::ALL
            .get(usize::from(n) - 1)
            .copied()
            .map(Some)
            .ok_or(Invalid::Malformed),
    }
}

/// Why a token was refused. Deliberately coarse: every variant is a 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("malformed token")]
    Malformed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
}

struct Key {
    id: [u8; 4],
    mac: HmacSha256,
}

impl Key {
    fn derive(secret: &str) -> Option<Self> {
        // A dedicated key, so the secret itself never signs anything public.
        let mut kdf = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
        kdf.update(b"vitrine delivery url v1");
        let key = kdf.finalize().into_bytes();
        let digest = Sha256::digest(key);
        let id = [digest[0], digest[1], digest[2], digest[3]];
        Some(Self {
            id,
            mac: HmacSha256::new_from_slice(&key).ok()?,
        })
    }
}

/// The signing key and the previous keys still accepted.
pub struct Keyring {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field(
                "current",
                &vitrine_entity::audit_chain::hex(&self.current.id),
            )
            .field("previous", &self.previous.len())
            .finish()
    }
}

impl Keyring {
    /// From the current secret and the previous ones.
    pub fn new<'a>(current: &str, previous: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        Some(Self {
            current: Key::derive(current)?,
            previous: previous.into_iter().filter_map(Key::derive).collect(),
        })
    }

    /// The current key's id (hex), for logs.
    pub fn key_id(&self) -> String {
        vitrine_entity::audit_chain::hex(&self.current.id)
    }

    /// Signs claims into a token.
    pub fn sign(&self, claims: &Claims) -> String {
        let mut bytes = Vec::with_capacity(DERIVATIVE_TOKEN_LEN);
        bytes.push(if claims.variant.is_some() {
            DERIVATIVE_FORMAT
        } else {
            FORMAT
        });
        bytes.extend_from_slice(&self.current.id);
        bytes.extend_from_slice(claims.asset_id.as_bytes());
        bytes.extend_from_slice(claims.version_id.as_bytes());
        bytes.push(claims.kind.code());
        let (holder, a, b) = match claims.holder {
            Holder::User {
                user_id,
                session_id,
            } => (1, user_id, session_id),
            Holder::Visitor {
                share_link_id,
                visit_id,
            } => (2, share_link_id, visit_id),
        };
        bytes.push(holder);
        bytes.extend_from_slice(a.as_bytes());
        bytes.extend_from_slice(b.as_bytes());
        bytes.extend_from_slice(&claims.expires_at.to_be_bytes());
        bytes.push(channel_code(claims.channel));
        bytes.extend_from_slice(&claims.territory.unwrap_or([0, 0]));
        if let Some(v) = claims.variant {
            bytes.extend_from_slice(v.profile_id.as_bytes());
            bytes.extend_from_slice(&v.revision.to_be_bytes());
            bytes.push(v.format.code());
            bytes.push(v.dpr);
        }
        let mut mac = self.current.mac.clone();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Checks a token's signature (in constant time) and reads its claims.
    /// Expiry is the caller's to check, against its clock.
    pub fn verify(&self, token: &str) -> Result<Claims, Invalid> {
        if token.len() > MAX_ENCODED {
            return Err(Invalid::Malformed);
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| Invalid::Malformed)?;
        let claims_len = match (bytes.first(), bytes.len()) {
            (Some(&FORMAT), TOKEN_LEN) => CLAIMS_LEN,
            (Some(&DERIVATIVE_FORMAT), DERIVATIVE_TOKEN_LEN) => DERIVATIVE_CLAIMS_LEN,
            (Some(1), len) if len == V1_CLAIMS_LEN + 32 => V1_CLAIMS_LEN,
            _ => return Err(Invalid::Malformed),
        };
        let (signed, tag) = bytes.split_at(claims_len);
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == signed[1..5])
            .ok_or(Invalid::UnknownKey)?;
        let mut mac = key.mac.clone();
        mac.update(signed);
        mac.verify_slice(tag).map_err(|_| Invalid::BadSignature)?;
        // Signed by us, so well-formed unless the layout changed.
        let uuid_at = |at: usize| {
            signed
                .get(at..at + 16)
                .and_then(|s| Uuid::from_slice(s).ok())
                .ok_or(Invalid::Malformed)
        };
        let kind = DeliveryKind::from_code(signed[37]).ok_or(Invalid::Malformed)?;
        let (a, b) = (uuid_at(39)?, uuid_at(55)?);
        let holder = match signed[38] {
            1 => Holder::User {
                user_id: a,
                session_id: b,
            },
            2 => Holder::Visitor {
                share_link_id: a,
                visit_id: b,
            },
            _ => return Err(Invalid::Malformed),
        };
        let mut exp = [0u8; 8];
        exp.copy_from_slice(&signed[71..79]);
        let (channel, territory) = if claims_len >= CLAIMS_LEN {
            let territory = match [signed[80], signed[81]] {
                [0, 0] => None,
                t if &t == b"**" || t.iter().all(u8::is_ascii_uppercase) => Some(t),
                _ => return Err(Invalid::Malformed),
            };
            (channel_of(signed[79])?, territory)
        } else {
            (None, None)
        };
        let variant = if claims_len == DERIVATIVE_CLAIMS_LEN {
            let mut revision = [0u8; 4];
            revision.copy_from_slice(&signed[98..102]);
            Some(Variant {
                profile_id: uuid_at(82)?,
                revision: i32::from_be_bytes(revision),
                format: VariantFormat::from_code(signed[102]).ok_or(Invalid::Malformed)?,
                dpr: signed[103],
            })
        } else {
            None
        };
        // A derivative URL names its variant, and only a derivative URL does.
        if variant.is_some() != (kind == DeliveryKind::Derivative) {
            return Err(Invalid::Malformed);
        }
        Ok(Claims {
            asset_id: uuid_at(5)?,
            version_id: uuid_at(21)?,
            kind,
            holder,
            expires_at: i64::from_be_bytes(exp),
            channel,
            territory,
            variant,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef-current";
    const OLD: &str = "0123456789abcdef0123456789abcdef-previous";

    fn claims() -> Claims {
        Claims {
            asset_id: Uuid::now_v7(),
            version_id: Uuid::now_v7(),
            kind: DeliveryKind::Original,
            holder: Holder::User {
                user_id: Uuid::now_v7(),
                session_id: Uuid::now_v7(),
            },
            expires_at: 1_900_000_000,
            channel: None,
            territory: None,
            variant: None,
        }
    }

    fn derivative() -> Claims {
        Claims {
            kind: DeliveryKind::Derivative,
            variant: Some(Variant {
                profile_id: Uuid::now_v7(),
                revision: 7,
                format: VariantFormat::Auto,
                dpr: 2,
            }),
            ..claims()
        }
    }

    #[test]
    fn derivative_urls_round_trip_in_format_3() {
        let ring = Keyring::new(SECRET, []).unwrap();
        for format in [
            VariantFormat::Auto,
            VariantFormat::Jpeg,
            VariantFormat::Webp,
            VariantFormat::Avif,
            VariantFormat::Png,
        ] {
            let mut c = derivative();
            if let Some(v) = c.variant.as_mut() {
                v.format = format;
            }
            let token = ring.sign(&c);
            assert_eq!(token.len(), (DERIVATIVE_TOKEN_LEN * 4).div_ceil(3));
            assert!(token.len() <= MAX_ENCODED);
            assert_eq!(ring.verify(&token), Ok(c));
        }
    }

    #[test]
    fn a_variant_needs_the_derivative_kind_and_the_reverse() {
        let ring = Keyring::new(SECRET, []).unwrap();
        // Signed by us but inconsistent: refused.
        let thumbnail_with_variant = Claims {
            kind: DeliveryKind::Thumbnail,
            ..derivative()
        };
        assert_eq!(
            ring.verify(&ring.sign(&thumbnail_with_variant)),
            Err(Invalid::Malformed)
        );
        let derivative_without = Claims {
            kind: DeliveryKind::Derivative,
            ..claims()
        };
        assert_eq!(
            ring.verify(&ring.sign(&derivative_without)),
            Err(Invalid::Malformed)
        );
    }

    #[test]
    fn every_flipped_bit_of_a_derivative_url_is_refused() {
        let ring = Keyring::new(SECRET, []).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(ring.sign(&derivative()))
            .unwrap();
        for i in 0..bytes.len() * 8 {
            let mut forged = bytes.clone();
            forged[i / 8] ^= 1 << (i % 8);
            let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged);
            assert!(
                ring.verify(&forged).is_err(),
                "bit {i} flipped was accepted"
            );
        }
    }

    #[test]
    fn round_trips() {
        let ring = Keyring::new(SECRET, []).unwrap();
        let c = claims();
        let token = ring.sign(&c);
        assert_eq!(token.len(), TOKEN_LEN.div_ceil(3) * 4);
        assert_eq!(ring.verify(&token), Ok(c));
        let v = Claims {
            holder: Holder::Visitor {
                share_link_id: Uuid::now_v7(),
                visit_id: Uuid::now_v7(),
            },
            kind: DeliveryKind::Thumbnail,
            ..c
        };
        assert_eq!(ring.verify(&ring.sign(&v)), Ok(v));
        for (channel, territory) in [
            (Some(Channel::Marketplace), Some("FR")),
            (Some(Channel::Advertising), None),
            (None, Some(WORLD)),
        ] {
            let used = Claims {
                channel,
                territory: territory.and_then(Claims::territory_code),
                ..c
            };
            let back = ring.verify(&ring.sign(&used)).unwrap();
            assert_eq!(back, used);
            assert_eq!(back.usage().channel, channel);
            assert_eq!(back.usage().territory.as_deref(), territory);
        }
    }

    #[test]
    fn the_documented_token_size_is_the_real_one() {
        let token = Keyring::new(SECRET, []).unwrap().sign(&claims());
        let doc = include_str!("../../../docs/ACCESS.md");
        let said = format!(
            "base64url ({} characters) of {TOKEN_LEN} bytes",
            token.len()
        );
        assert!(doc.contains(&said), "docs/ACCESS.md should say: {said}");
    }

    #[test]
    fn format_1_urls_still_verify_without_a_declared_use() {
        let ring = Keyring::new(SECRET, []).unwrap();
        let c = claims();
        let v2 = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(ring.sign(&c))
            .unwrap();
        let mut v1 = v2[..V1_CLAIMS_LEN].to_vec();
        v1[0] = 1;
        let mut mac = ring.current.mac.clone();
        mac.update(&v1);
        v1.extend_from_slice(&mac.finalize().into_bytes());
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v1);
        assert_eq!(ring.verify(&token), Ok(c));
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let ring = Keyring::new(SECRET, []).unwrap();
        let token = ring.sign(&claims());
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .unwrap();
        for i in 0..bytes.len() * 8 {
            let mut forged = bytes.clone();
            forged[i / 8] ^= 1 << (i % 8);
            let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged);
            assert!(
                ring.verify(&forged).is_err(),
                "bit {i} flipped was accepted"
            );
        }
    }

    #[test]
    fn garbage_is_malformed() {
        let ring = Keyring::new(SECRET, []).unwrap();
        for bad in ["", "abc", "!!!!", &"A".repeat(5000)] {
            assert_eq!(ring.verify(bad), Err(Invalid::Malformed));
        }
    }

    #[test]
    fn previous_keys_verify_but_do_not_sign() {
        let old = Keyring::new(OLD, []).unwrap();
        let token = old.sign(&claims());
        let rotated = Keyring::new(SECRET, [OLD]).unwrap();
        assert!(rotated.verify(&token).is_ok());
        assert_ne!(rotated.key_id(), old.key_id());
        let forgotten = Keyring::new(SECRET, []).unwrap();
        assert_eq!(forgotten.verify(&token), Err(Invalid::UnknownKey));
    }

    #[test]
    fn another_installations_key_is_unknown() {
        let theirs = Keyring::new("another-installation-secret-0123456789", []).unwrap();
        let ours = Keyring::new(SECRET, []).unwrap();
        assert_eq!(
            ours.verify(&theirs.sign(&claims())),
            Err(Invalid::UnknownKey)
        );
    }
}
