//! ID-token checks against tokens signed here with Ed25519 keys: each way a token can be wrong
//! is refused with its reason.

use aws_lc_rs::signature::Ed25519KeyPair;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{IdTokenError, verify_id_token};
use crate::util::now;

const ISS: &str = "https://idp.example";
const CLIENT: &str = "sessiongate";
const NONCE: &str = "n-0S6_WzA2Mj";

fn key(kid: &str) -> (EncodingKey, Jwk) {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8v1(&rng).expect("key");
    let enc = EncodingKey::from_ed_der(doc.as_ref());
    let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::EdDSA).expect("jwk");
    jwk.common.key_id = Some(kid.into());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    (enc, jwk)
}

fn claims() -> Value {
    json!({"iss": ISS, "aud": CLIENT, "sub": "user-1", "exp": now() + 300, "iat": now(), "nonce": NONCE, "email": "a@example.com"})
}

fn sign(enc: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, claims, enc).expect("sign")
}

fn check(token: &str, keys: &JwkSet) -> Result<serde_json::Map<String, Value>, IdTokenError> {
    verify_id_token(token, keys, ISS, CLIENT, NONCE)
}

fn refused(r: Result<serde_json::Map<String, Value>, IdTokenError>, reason: &str) {
    match r {
        Err(IdTokenError::Invalid(why)) => {
            assert!(why.contains(reason), "{why:?} lacks {reason:?}")
        }
        other => panic!("expected a refusal for {reason:?}, got {other:?}"),
    }
}

#[test]
fn a_good_token_passes_and_each_bad_one_is_refused() {
    let (enc, jwk) = key("k1");
    let keys = JwkSet { keys: vec![jwk] };
    let good = check(&sign(&enc, "k1", &claims()), &keys).expect("a good token");
    assert_eq!(good["sub"], "user-1");

    let with = |k: &str, v: Value| {
        let mut c = claims();
        c[k] = v;
        sign(&enc, "k1", &c)
    };
    refused(
        check(&with("iss", json!("https://evil.example")), &keys),
        "(iss)",
    );
    refused(check(&with("aud", json!("another-client")), &keys), "(aud)");
    refused(check(&with("exp", json!(now() - 3600)), &keys), "expired");
    refused(
        check(&with("nonce", json!("other")), &keys),
        "nonce does not match",
    );
    refused(
        check(&with("iat", json!(now() + 3600)), &keys),
        "in the future",
    );
    refused(check(&with("azp", json!("another-client")), &keys), "(azp)");
    refused(
        check(&with("aud", json!([CLIENT, "other"])), &keys),
        "several audiences",
    );
    let mut no_nonce = claims();
    no_nonce.as_object_mut().map(|o| o.remove("nonce"));
    refused(check(&sign(&enc, "k1", &no_nonce), &keys), "no nonce");

    // A changed payload under the original signature.
    let token = sign(&enc, "k1", &claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut c = claims();
    c["sub"] = json!("admin");
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&c).expect("json"),
    );
    refused(check(&parts.join("."), &keys), "signature is not valid");

    // Signed by a key the provider does not publish.
    let (other, _) = key("k1");
    refused(
        check(&sign(&other, "k1", &claims()), &keys),
        "signature is not valid",
    );
    let (other2, _) = key("k2");
    assert_eq!(
        check(&sign(&other2, "k2", &claims()), &keys),
        Err(IdTokenError::UnknownKey)
    );

    // Symmetric and unsigned tokens.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(b"the client secret"),
    )
    .expect("hs256");
    refused(check(&hs, &keys), "algorithm");
    let b64 = |v: &Value| {
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(v).expect("json"),
        )
    };
    let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims()));
    refused(check(&none, &keys), "not a JWT");
    refused(check("garbage", &keys), "not a JWT");
}

#[test]
fn verified_emails_need_email_verified_true() {
    let c = |v: Value| v.as_object().cloned().unwrap_or_default();
    assert_eq!(
        super::verified_emails(&c(json!({"email": "a@x.example", "email_verified": true}))),
        vec!["a@x.example".to_owned()]
    );
    assert!(
        super::verified_emails(&c(json!({"email": "a@x.example", "email_verified": false})))
            .is_empty()
    );
    assert!(super::verified_emails(&c(json!({"email": "a@x.example"}))).is_empty());
}
