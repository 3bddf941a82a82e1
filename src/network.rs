//! How the plugin's HTTP clients reach the network in a company: extra CA certificates from
//! `network.ca_file` (trusted in addition to the system's roots, which honour
//! `SSL_CERT_FILE`), and proxies from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` (reqwest reads
//! them). See docs/operations.md ("Networks: CAs and proxies").

use std::path::Path;

use reqwest::{Certificate, ClientBuilder};

use crate::manifest::Manifest;

/// The certificates of a PEM file, or a one-line reason naming the file and the problem.
pub(crate) fn read_ca_file(path: &Path) -> Result<Vec<Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{} is not a PEM certificate bundle: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// What every HTTP client of one skill trusts beyond the system's roots. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Network {
    extra_roots: Vec<Certificate>,
}

impl Network {
    /// From `network.ca_file` (read now: a bad file is an error naming it).
    pub(crate) fn from_manifest(manifest: &Manifest) -> Result<Network, String> {
        let extra_roots = match manifest.ca_file() {
            Some(file) => read_ca_file(&file).map_err(|e| format!("network.ca_file: {e}"))?,
            None => Vec::new(),
        };
        Ok(Network { extra_roots })
    }

    /// A client builder that trusts the extra CAs too (proxies come from the environment).
    pub(crate) fn client_builder(&self) -> ClientBuilder {
        let builder = reqwest::Client::builder();
        if self.extra_roots.is_empty() {
            builder
        } else {
            builder.tls_certs_merge(self.extra_roots.iter().cloned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_named_with_the_problem() {
        let dir = std::env::temp_dir().join(format!("ocdt-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("公司根证书.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = read_ca_file(&empty).unwrap_err();
        assert!(
            err.contains("公司根证书.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
        let missing = read_ca_file(&dir.join("missing.pem")).unwrap_err();
        assert!(missing.starts_with("cannot read "), "{missing}");
    }
}
