//! How the plugin's HTTP clients reach the network in a company: extra CA certificates from
//! `network.ca_file` (trusted in addition to the system's roots, which honour
//! `SSL_CERT_FILE`), and proxies from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` (reqwest reads
//! them). See docs/operations.md ("Networks: CAs and proxies").

use std::path::Path;

use reqwest::{Certificate, ClientBuilder};

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
    /// From `network.ca_file`, resolved (read now: a bad file is an error naming it).
    pub(crate) fn from_ca_file(ca_file: Option<&Path>) -> Result<Network, String> {
        let extra_roots = match ca_file {
            Some(file) => read_ca_file(file).map_err(|e| format!("network.ca_file: {e}"))?,
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

    /// An HTTPS server on 127.0.0.1 whose certificate a company CA (made here) signed.
    async fn https_server_signed_by_a_company_ca() -> (u16, String) {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let config = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone(), ca.der().clone()],
                tokio_rustls::rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der())
                    .unwrap(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let mut buf = [0u8; 1024];
                    let _ = tls.read(&mut buf).await;
                    let body = "企业网络";
                    let _ = tls
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            )
                            .as_bytes(),
                        )
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (port, ca.pem())
    }

    #[tokio::test]
    async fn a_company_ca_in_network_ca_file_is_trusted_and_missing_it_is_named() {
        let (port, ca_pem) = https_server_signed_by_a_company_ca().await;
        let url = format!("https://127.0.0.1:{port}/");

        let untrusting = Network::default()
            .client_builder()
            .no_proxy()
            .build()
            .unwrap();
        let err = crate::net_error::describe(untrusting.get(&url).send().await.unwrap_err());
        assert!(
            err.contains("UnknownIssuer") || err.to_lowercase().contains("certificate"),
            "the error names the certificate problem: {err}"
        );

        let dir = std::env::temp_dir().join(format!("ocdt-ca-ok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("company-ca.pem");
        std::fs::write(&file, ca_pem).unwrap();
        let network = Network {
            extra_roots: read_ca_file(&file).unwrap(),
        };
        let trusting = network.client_builder().no_proxy().build().unwrap();
        let answer = trusting.get(&url).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.text().await.unwrap(), "企业网络");
    }
}
