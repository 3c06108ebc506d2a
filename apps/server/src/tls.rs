//! TLS 1.3 with optional, verified client certificates.
//!
//! Client certificates are optional at the TLS layer (people and scripts have none) but,
//! when sent, must chain to our CA. Routes that need one check the fingerprint against the
//! collector's registered certificate (the `Authorize` use case).

use actix_tls::accept::openssl::TlsStream;
use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use openssl::pkey::PKey;
use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::X509;
use pganalytics_domain::credentials::Fingerprint;
use std::any::Any;

/// The fingerprint of the client certificate presented on this connection.
#[derive(Debug, Clone)]
pub struct PeerFingerprint(pub Fingerprint);

pub fn acceptor(ca_pem: &str, cert_pem: &str, key_pem: &str) -> anyhow::Result<SslAcceptorBuilder> {
    let ca = X509::from_pem(ca_pem.as_bytes())?;
    let mut b = SslAcceptor::mozilla_modern_v5(SslMethod::tls_server())?;
    b.set_min_proto_version(Some(SslVersion::TLS1_3))?;
    b.set_certificate(X509::from_pem(cert_pem.as_bytes())?.as_ref())?;
    b.add_extra_chain_cert(ca.clone())?;
    b.set_private_key(PKey::private_key_from_pem(key_pem.as_bytes())?.as_ref())?;
    b.check_private_key()?;
    b.cert_store_mut().add_cert(ca.clone())?;
    b.add_client_ca(&ca)?;
    // PEER without FAIL_IF_NO_PEER_CERT: a certificate is optional, but verified when sent.
    b.set_verify(SslVerifyMode::PEER);
    // With peer verification on, OpenSSL refuses to resume a session (a browser's second
    // connection, an agent's reconnect) unless sessions carry this server's context: the
    // handshake failed with "session id context uninitialized" (the console's browser test
    // saw ERR_SSL_PROTOCOL_ERROR on its parallel requests). A resumed session keeps the
    // client certificate it was verified with.
    b.set_session_id_context(b"pganalytics-server")?;
    Ok(b)
}

/// `HttpServer::on_connect` hook: remembers the verified peer certificate's fingerprint.
pub fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
    if let Some(tls) = conn.downcast_ref::<TlsStream<TcpStream>>()
        && let Some(der) = tls.ssl().peer_certificate().and_then(|c| c.to_der().ok())
    {
        ext.insert(PeerFingerprint(Fingerprint::of_der(&der)));
    }
}
