//! How the host's own clients (the Stream `connections/open` request and the WebSocket) reach
//! the network in a company: the extra CA certificates of `network.ca_file` are trusted in
//! addition to the system's roots (which honour `SSL_CERT_FILE`); `connections/open` goes
//! through `HTTPS_PROXY`/`NO_PROXY` like every reqwest client. See docs/operations.md
//! ("Networks: CAs and proxies").

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio_tungstenite::Connector;

use crate::host_manifest::NetworkSettings;

/// The host's trust settings. Cheap to clone.
#[derive(Clone, Default)]
pub struct Network {
    extra: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Network {{ extra CA certificates: {} }}",
            self.extra.len()
        )
    }
}

impl Network {
    /// Reads `network.ca_file` (the plugin already checked it; an error here names the file).
    pub fn from_settings(settings: &NetworkSettings) -> Result<Network> {
        match &settings.ca_file {
            Some(file) => Network::from_pem_file(file),
            None => Ok(Network::default()),
        }
    }

    fn from_pem_file(file: &Path) -> Result<Network> {
        let pem = std::fs::read(file)
            .with_context(|| format!("network.ca_file: cannot read {}", file.display()))?;
        let extra = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                anyhow::anyhow!(
                    "network.ca_file: {} is not a PEM certificate bundle: {e}",
                    file.display()
                )
            })?;
        Ok(Network { extra })
    }

    /// A reqwest client builder that trusts the extra CAs too.
    pub fn http_client(&self) -> reqwest::ClientBuilder {
        let builder = reqwest::Client::builder();
        if self.extra.is_empty() {
            return builder;
        }
        let certs = self
            .extra
            .iter()
            .filter_map(|c| reqwest::Certificate::from_der(c).ok());
        builder.tls_certs_merge(certs)
    }

    /// The TLS connector of the WebSocket: `None` = tokio-tungstenite's default (the system's
    /// roots); with extra CAs, the system's roots plus those.
    pub fn ws_connector(&self) -> Option<Connector> {
        if self.extra.is_empty() {
            return None;
        }
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            log::warn!("system CA certificates: {error}");
        }
        roots.add_parsable_certificates(native.certs);
        roots.add_parsable_certificates(self.extra.iter().cloned());
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Some(Connector::Rustls(Arc::new(config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_pem_is_named() {
        let dir = std::env::temp_dir().join(format!("ocdt-host-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("公司根证书.pem");
        std::fs::write(
            &file,
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = Network::from_pem_file(&file).err().unwrap().to_string();
        assert!(err.contains("公司根证书.pem"), "{err}");
        let none = Network::from_settings(&NetworkSettings { ca_file: None }).unwrap();
        assert!(none.ws_connector().is_none());
    }
}
