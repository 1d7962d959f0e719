//! TLS for the connections to PostgreSQL, with libpq's settings in the
//! `CW_DB` URL: `sslmode` (`disable`, `prefer` — the default — `require`,
//! `verify-ca`, `verify-full`) and `sslrootcert` (a PEM file of the
//! certificates to trust).
//!
//! As in libpq, `prefer` and `require` encrypt without checking who answers
//! unless `sslrootcert` is given; `verify-ca` and `verify-full` check the
//! server's certificate against `sslrootcert`, or the system's trusted roots
//! without it, and its name against the host (rustls always checks the name,
//! so `verify-ca` is as strict as `verify-full`). The driver itself knows
//! only `disable`, `prefer` and `require`; this module turns the rest into
//! those plus a certificate check. It reads the URL and the certificate
//! file, and never opens a connection itself.

use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A `CW_DB` URL read: the driver's settings, and how to check the server.
pub struct Settings {
    pub config: tokio_postgres::Config,
    verify: bool,
    root_file: Option<String>,
}

impl Settings {
    /// Reads `url` (no I/O: a `sslrootcert` file is read by `connector`).
    pub fn parse(url: &str) -> Result<Settings, String> {
        let mut parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        let mut verify = false;
        let mut root_file = None;
        let mut kept: Vec<(String, String)> = Vec::new();
        for (key, value) in parsed.query_pairs().into_owned() {
            match key.as_str() {
                "sslrootcert" => root_file = Some(value),
                "sslmode" if value == "verify-ca" || value == "verify-full" => {
                    verify = true;
                    kept.push((key, "require".into()));
                }
                _ => kept.push((key, value)),
            }
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
        let config = tokio_postgres::Config::from_str(parsed.as_str())
            .map_err(|e| format!("not a usable PostgreSQL URL: {e}"))?;
        Ok(Settings {
            config,
            verify,
            root_file,
        })
    }

    /// The TLS connector the settings ask for.
    pub fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let tls = if self.verify || self.root_file.is_some() {
            let roots = match &self.root_file {
                Some(path) => roots_from_file(path)?,
                None => system_roots()?,
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth()
        };
        Ok(MakeRustlsConnect::new(tls))
    }
}

/// Every certificate in the PEM file at `path`.
fn roots_from_file(path: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let certs =
        CertificateDer::pem_file_iter(path).map_err(|e| format!("sslrootcert={path}: {e}"))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("sslrootcert={path}: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("sslrootcert={path}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("sslrootcert={path}: no certificate in the file"));
    }
    Ok(roots)
}

/// The certificates the system trusts.
fn system_roots() -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(
            "sslmode=verify-full: the system trusts no certificate; give sslrootcert=FILE".into(),
        );
    }
    Ok(roots)
}

/// `prefer` and `require` without `sslrootcert`, as libpq does them: the
/// connection is encrypted, the server's certificate is not checked (its
/// signature on the handshake still is).
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
