//! HTTPS for clients that only speak it (simple-salesforce builds every URL as `https://`).
//!
//! At start the sandbox makes a throwaway certificate authority and a server certificate it
//! signs for `127.0.0.1`, `::1` and `localhost`, and serves TLS with rustls on the workspace's
//! aws-lc-rs provider. A client trusts the CA's PEM (`REQUESTS_CA_BUNDLE`,
//! `NODE_EXTRA_CA_CERTS`, reqwest's `add_root_certificate`); nothing is written to a trust
//! store. A separate CA (rather than one self-signed leaf) is what strict verifiers such as
//! OpenSSL's X509_STRICT mode accept.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

/// Why HTTPS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot generate the sandbox's TLS certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot configure TLS: {0}")]
    Config(#[from] tokio_rustls::rustls::Error),
}

/// The certificate a client trusts and the server's configuration.
pub(crate) struct TlsMaterial {
    /// PEM of the CA that signed the server certificate.
    pub ca_pem: String,
    pub config: Arc<ServerConfig>,
}

/// Makes the CA, the server certificate and the rustls configuration.
pub(crate) fn material() -> Result<TlsMaterial, TlsError> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "ledgerforce sandbox CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec![
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
        "localhost".to_owned(),
    ])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "ledgerforce Salesforce sandbox");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let mut config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // The router speaks HTTP/1.1 only; offering h2 would strand clients that pick it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        config: Arc::new(config),
    })
}

/// A handshake that has not finished by then is dropped, so a silent client holds nothing.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections whose handshake is done, handed to axum. Handshakes run in their own tasks, so
/// one slow client does not hold up the others.
struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The acceptor stopped: no connection will come; shutdown ends the server.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// A running HTTPS endpoint.
#[derive(Debug)]
pub(crate) struct TlsServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    acceptor: JoinHandle<()>,
}

/// Binds `127.0.0.1:port` (0 = any free port) and serves `router` over TLS.
pub(crate) async fn serve(
    router: Router,
    port: u16,
    config: Arc<ServerConfig>,
) -> std::io::Result<TlsServer> {
    let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = tcp.local_addr()?;
    let (tx, ready) = mpsc::channel(64);
    let tls = TlsAcceptor::from(config);
    let acceptor = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = tcp.accept().await else {
                // Out of descriptors and the like: back off, then accept again.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let tls = tls.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                // A failed handshake (a client that does not trust the CA, plain HTTP on the
                // TLS port) only closes that connection.
                if let Ok(Ok(conn)) =
                    tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await
                {
                    let _ = tx.send((conn, peer)).await;
                }
            });
        }
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let listener = TlsListener { ready, addr };
    let task = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(TlsServer {
        addr,
        stop: Some(stop),
        task: Some(task),
        acceptor,
    })
}

impl TlsServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub async fn shutdown(mut self) {
        self.acceptor.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.acceptor.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
