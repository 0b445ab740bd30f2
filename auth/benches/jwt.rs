//! What checking a bearer token costs on the hot path of every `/mcp` request:
//! `AuthServer::verify_bearer` with a valid Ed25519 access token (signature, claims,
//! revocation sets; keys and revocations are in memory, no database read), and with a
//! token whose signature is wrong.
//!
//! Run with `cargo bench -p sessiongate-auth --bench jwt`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_main};
use http::{HeaderMap, HeaderValue, Uri, header};

use sessiongate_auth::{AuthConfig, AuthServer, Scope};

fn headers(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    h
}

fn verify(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = AuthServer::open(AuthConfig::new(
        dir.path().to_path_buf(),
        "http://127.0.0.1:8080",
    ))
    .expect("auth server");
    let token = auth
        .mint_token("owner", &Scope::ALL, Duration::from_secs(3600))
        .expect("token");
    let uri: Uri = "/mcp".parse().expect("uri");
    let good = headers(&token);
    assert!(auth.verify_bearer(&good, &uri).is_ok());
    // The same token with its signature's last characters changed.
    let mut forged = token.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let bad = headers(&forged);
    assert!(auth.verify_bearer(&bad, &uri).is_err());

    let mut g = c.benchmark_group("verify_bearer");
    g.bench_function("valid_token", |b| {
        b.iter(|| auth.verify_bearer(black_box(&good), &uri).is_ok())
    });
    g.bench_function("bad_signature", |b| {
        b.iter(|| auth.verify_bearer(black_box(&bad), &uri).is_err())
    });
    g.finish();
    let mut g = c.benchmark_group("mint");
    g.bench_function("access_token", |b| {
        b.iter(|| auth.mint_token("owner", &Scope::ALL, Duration::from_secs(3600)))
    });
    g.finish();
}

/// The benchmark group.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    verify(&mut c);
}
criterion_main!(benches);
